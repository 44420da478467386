// Event-driven: a run starts when new orders land in the shop's database, instead of on
// a clock. New rows of public.order_events are taken from a queue that Updraft sets up in
// the shop's database (a queue table and an AFTER INSERT trigger, created if missing), so
// rows inserted while Updraft is down start their run once it is back. A burst of orders
// becomes one run: Updraft waits until 10 s pass without a new row (at most 500 rows).
//
// It needs the connection 'shop' (UPDRAFT_CONN_SHOP=postgres://... or
// `updraft connections add shop postgres://...`; `npm run example` creates it) and a
// role on it that may create a table, a function and a trigger. Starts paused: unpause it
// in the UI or with `updraft dags unpause order_events`. See docs/event-triggers.md.
import { dag } from 'updraft';

interface OrderEvent {
  event_id: number;
  /** Text in the example shop, and dirty: '12.50', '12,50', '' ... */
  amount?: string | null;
}

export default dag(
  {
    id: 'order_events',
    description: 'One run per burst of new shop orders (event trigger, queue form)',
    schedule: null,
    events: { conn: 'shop', table: { name: 'public.order_events', mode: 'queue' }, debounce: '10s', maxBatch: 500 },
    pausedAtCreation: true,
    maxActiveRuns: 1,
    tags: ['example', 'events'],
    owner: 'data-eng',
  },
  (t) => {
    const summarise = t.task('summarise', async (ctx) => {
      // A batched trigger's conf: { events: [row, row, ...] }, each row as the table's JSON.
      const events = (ctx.conf.events ?? []) as OrderEvent[];
      const total = events.reduce((sum, e) => {
        const amount = Number.parseFloat(e.amount ?? '');
        return sum + (Number.isFinite(amount) ? amount : 0);
      }, 0);
      ctx.log.info('%d new order event(s), %s in total', events.length, total.toFixed(2));
      return {
        count: events.length,
        firstId: events[0]?.event_id ?? null,
        lastId: events.at(-1)?.event_id ?? null,
        total,
      };
    });
    const notify = t.task('notify_team', async (ctx) => {
      const { count, total } = await ctx.pull(summarise);
      ctx.log.info('would tell the team: %d orders, %s', count, total.toFixed(2));
    });
    summarise.then(notify);
  },
);
