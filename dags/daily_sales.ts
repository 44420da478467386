// A scheduled chain with retries: every night at 02:00 Berlin time, summarise the
// previous day's orders. Each run covers one data interval, [logicalDate, next fire).
import { dag, FailTask, SkipTask } from 'updraft';

interface Order {
  id: number;
  amount: number;
}

export default dag(
  {
    id: 'daily_sales',
    description: 'Nightly sales summary: extract, aggregate, publish',
    schedule: '0 2 * * *',
    timezone: 'Europe/Berlin',
    startDate: '2026-01-01',
    catchup: false,
    maxActiveRuns: 1,
    defaults: { retries: 2, retryDelay: '30s', retryBackoff: true, maxRetryDelay: '10m', timeout: '10m' },
    tags: ['sales', 'example'],
    params: {
      failOn: {
        type: 'string',
        default: '',
        description:
          'A day (YYYY-MM-DD) whose publish fails: try a backfill that fails, then re-run it (docs/backfill.md)',
      },
    },
    pausedAtCreation: false, // an example: runs as soon as Updraft starts
    owner: 'data-eng',
  },
  (t) => {
    const extract = t.task('extract_orders', async (ctx): Promise<Order[]> => {
      ctx.log.info(`orders from ${ctx.interval.start.toISOString()} to ${ctx.interval.end.toISOString()}`);
      // Stands in for a query on the shop database (see the sql and sync operators).
      const day = ctx.interval.start.getUTCDate();
      return Array.from({ length: 10 + day }, (_, i) => ({ id: i + 1, amount: ((i * 37 + day) % 100) + 0.5 }));
    });

    const totals = t.task('aggregate', async (ctx) => {
      const orders = await ctx.pull(extract); // typed: Order[]
      if (orders.length === 0) throw new SkipTask('no orders in this interval');
      const revenue = orders.reduce((sum, o) => sum + o.amount, 0);
      return { orders: orders.length, revenue: Math.round(revenue * 100) / 100 };
    });

    const publish = t.task('publish', { retries: 0 }, async (ctx) => {
      const { orders, revenue } = await ctx.pull(totals); // typed: { orders: number; revenue: number }
      if (ctx.params.failOn !== '' && ctx.interval.start.toISOString().startsWith(ctx.params.failOn)) {
        throw new FailTask(`publishing is switched off for ${ctx.params.failOn} (params.failOn)`);
      }
      ctx.log.info(`${orders} orders, revenue ${revenue}`);
      return { published: true };
    });

    extract.then(totals).then(publish);
  },
);
