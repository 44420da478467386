// A data pipeline on two PostgreSQL databases, with the four operators: copy the
// shop's order events into the warehouse (incremental, COPY streams), cleanse them
// (dirty emails, countries, amounts, dates, duplicates), aggregate each day's sales
// with parameterised SQL, and render an HTML report with a chart.
//
// It needs the connections 'shop' and 'warehouse'. `npm run example` creates both
// databases on your local PostgreSQL, fills the shop with a week of dirty orders,
// writes the connections to .env and runs this DAG once (see README.md).
import { dag, SkipTask } from 'updraft';

export default dag(
  {
    id: 'orders_pipeline',
    description: 'Shop orders into the warehouse: sync, cleanse, daily totals, report',
    schedule: '@daily',
    startDate: '2026-01-01',
    catchup: false,
    maxActiveRuns: 1, // runs share the sync's high-water mark and the clean table
    defaults: { retries: 2, retryDelay: '30s', timeout: '30m' },
    tags: ['example', 'operators'],
    owner: 'data-eng',
    // Starts paused: it fails without its connections. `npm run example` unpauses it.
  },
  (t) => {
    const extract = t.sync('extract_orders', {
      from: { conn: 'shop', table: 'public.order_events' },
      to: { conn: 'warehouse', table: 'staging.order_events', create: true },
      key: ['event_id'],
      // Rows updated up to 10 minutes before the last mark are read again: late commits are not lost.
      incremental: { column: 'updated_at', lookback: '10m' },
    });

    const clean = t.cleanse('clean_orders', {
      conn: 'warehouse',
      table: 'staging.order_events',
      into: 'clean.orders',
      quarantine: 'staging.order_events_rejected',
      rules: [
        { rule: 'trim', columns: ['customer_email', 'country', 'status'] },
        { rule: 'lower', columns: ['customer_email', 'status'] },
        { rule: 'upper', columns: ['country'] },
        { rule: 'nullIf', column: 'country', values: ['', 'N/A', '??'] },
        { rule: 'default', column: 'country', value: 'ZZ' },
        { rule: 'cast', column: 'amount', to: 'numeric' },
        { rule: 'cast', column: 'ordered_at', to: 'timestamptz' },
        { rule: 'required', columns: ['order_id', 'customer_email', 'ordered_at'] },
        { rule: 'regex', column: 'customer_email', pattern: '^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$' },
        { rule: 'range', column: 'amount', min: 0, max: 10000 },
        { rule: 'allowed', column: 'status', values: ['paid', 'pending', 'refunded'] },
        // The shop writes an event per change: keep each order's latest.
        { rule: 'dedupe', key: ['order_id'], keepLatestBy: 'updated_at' },
      ],
    });

    const totals = t.sql('daily_totals', {
      conn: 'warehouse',
      // The interval's bounds are bound as parameters ($1, $2), never spliced into the text.
      sql: ({ interval }) => [
        `create schema if not exists mart`,
        `create table if not exists mart.daily_sales (
           day date not null, country text not null, orders int not null, revenue numeric not null,
           primary key (day, country))`,
        {
          text: `delete from mart.daily_sales
                  where day >= ($1::timestamptz at time zone 'UTC')::date and day < ($2::timestamptz at time zone 'UTC')::date`,
          values: [interval.start, interval.end],
        },
        {
          text: `insert into mart.daily_sales (day, country, orders, revenue)
                 select (ordered_at at time zone 'UTC')::date, country, count(*), sum(amount)
                   from clean.orders
                  where status = 'paid' and ordered_at >= $1 and ordered_at < $2
                  group by 1, 2`,
          values: [interval.start, interval.end],
        },
      ],
    });

    const check = t.task('check_totals', async (ctx) => {
      const result = await ctx.pull(totals); // typed: SqlResult
      if (result.rowCount === 0)
        throw new SkipTask(
          `no paid orders between ${ctx.interval.start.toISOString()} and ${ctx.interval.end.toISOString()}`,
        );
      ctx.log.info(`${result.rowCount} country totals for ${ctx.interval.start.toISOString().slice(0, 10)}`);
      return { countries: result.rowCount };
    });

    const report = t.report('sales_report', {
      conn: 'warehouse',
      format: 'html',
      title: 'Paid orders per day (last 14 days)',
      query: ({ interval }) => ({
        text: `select day, sum(orders)::int as orders, sum(revenue)::float8 as revenue
                 from mart.daily_sales
                where day > ($1::timestamptz at time zone 'UTC')::date - 14 and day <= ($1::timestamptz at time zone 'UTC')::date
                group by day order by day`,
        values: [interval.start],
      }),
      chart: { x: 'day', y: ['revenue'], type: 'bar' },
    });

    extract.then(clean).then(totals).then(check).then(report);
  },
);
