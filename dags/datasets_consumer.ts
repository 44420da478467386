// Data-aware scheduling, the consuming side (docs/datasets.md). These DAGs have no cron:
// they run when the datasets they are scheduled on were updated (by datasets_producer.ts).
// 'all' (the default, Airflow's list) waits until every dataset has a new event since the
// DAG's last dataset-triggered run; 'any' (Airflow's DatasetAny) runs on each update.
import { dag } from 'updraft';

export const dailySalesReport = dag(
  {
    id: 'datasets_consumer',
    description: 'Builds the sales report once both orders and stock are fresh',
    schedule: { datasets: ['warehouse://public.orders', 'warehouse://public.stock'] },
    tags: ['example', 'datasets'],
  },
  (t) => {
    t.task('build_report', async (ctx) => {
      // The events that triggered this run, oldest first; the data interval spans them.
      for (const e of ctx.triggeringEvents)
        ctx.log.info(`${e.uri} updated by ${e.sourceDagId}.${e.sourceTaskId} at ${e.at}`);
      return { datasets: ctx.triggeringEvents.map((e) => e.uri) };
    });
  },
);

export const ordersAudit = dag(
  {
    id: 'datasets_orders_audit',
    description: 'Checks every new load of orders',
    schedule: { datasets: ['warehouse://public.orders'], when: 'any' },
    tags: ['example', 'datasets'],
  },
  (t) => {
    t.task('audit', async (ctx) => ({ checked: ctx.triggeringEvents.length }));
  },
);
