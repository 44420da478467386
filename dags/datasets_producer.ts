// Data-aware scheduling, the producing side (docs/datasets.md). Each task names the
// datasets it updates in `outlets`; every success records a dataset event, and DAGs
// scheduled on those datasets run (see datasets_consumer.ts). No connection needed:
//   updraft dags unpause datasets_producer && updraft dags unpause datasets_consumer
//   updraft dags trigger datasets_producer
//   updraft datasets events
import { dag } from 'updraft';

export default dag(
  {
    id: 'datasets_producer',
    description: 'Loads orders and refreshes stock levels; each updates a dataset',
    schedule: '@daily',
    startDate: '2026-01-01',
    catchup: false,
    tags: ['example', 'datasets'],
  },
  (t) => {
    const orders = t.task('load_orders', { outlets: ['warehouse://public.orders'] }, async (ctx) => {
      ctx.log.info(`loading the orders of ${ctx.interval.start.toISOString().slice(0, 10)}`);
      return { rows: 42 };
    });
    // An operator's config object carries `outlets` beside its own settings in the same way.
    const stock = t.task('refresh_stock', { outlets: ['warehouse://public.stock'] }, async () => ({ items: 7 }));
    orders.then(stock);
  },
);
