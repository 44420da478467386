// Two sensors (docs/sensors.md).
//
// `landing_file` (manual runs): a function sensor in reschedule mode waits for a file to
// land; between pokes the task is up_for_reschedule and holds no worker thread. Try it:
//   updraft dags trigger landing_file --conf '{"path": "/tmp/updraft-landing/orders.csv"}'
//   mkdir -p /tmp/updraft-landing && echo 'id,amount' > /tmp/updraft-landing/orders.csv
//
// `orders_arrived` (hourly): an SQL sensor that waits until the shop has order events in
// the run's data interval, then counts them. It needs the connection 'shop' (the one
// `npm run example` creates for orders_pipeline.ts, or UPDRAFT_CONN_SHOP=postgres://...),
// so it starts paused: unpause it once the connection exists.
import { existsSync, statSync } from 'node:fs';
import { dag } from 'updraft';

export const landingFile = dag(
  {
    id: 'landing_file',
    description: 'Waits for a file to land, without holding a worker between looks',
    params: { path: { type: 'string', default: '/tmp/updraft-landing/orders.csv' } },
    tags: ['example', 'sensors'],
  },
  (t) => {
    const landed = t.sensor('wait_for_file', {
      mode: 'reschedule',
      interval: '10s',
      timeout: '30m',
      // What a poke returns when it is met (other than `true`) is the sensor's XCom.
      poke: (ctx) =>
        existsSync(ctx.params.path) ? { path: ctx.params.path, bytes: statSync(ctx.params.path).size } : false,
    });
    const load = t.task('load', async (ctx) => {
      const file = await ctx.pull(landed);
      ctx.log.info(`loading ${file?.path} (${file?.bytes} bytes)`);
      return { loaded: file?.bytes ?? 0 };
    });
    landed.then(load);
  },
);

export const ordersArrived = dag(
  {
    id: 'orders_arrived',
    description: "Counts each hour's order events once the shop has some",
    schedule: '@hourly',
    startDate: '2026-01-01',
    catchup: false,
    maxActiveRuns: 2,
    tags: ['example', 'sensors'],
    // Fails without the 'shop' connection: starts paused (see the top of this file).
    pausedAtCreation: true,
  },
  (t) => {
    // select 1 from "public"."order_events" where "updated_at" >= $1 and "updated_at" < $2 limit 1
    const arrived = t.sqlSensor('orders_in_interval', {
      conn: 'shop',
      table: 'public.order_events',
      column: 'updated_at',
      mode: 'reschedule',
      interval: '5m',
      timeout: '2h',
      // An hour without orders is not an error: the run ends with this task skipped.
      softFail: true,
    });
    const count = t.sql('count_orders', {
      conn: 'shop',
      sql: ({ interval }) => ({
        text: 'select count(*)::int as orders from public.order_events where updated_at >= $1 and updated_at < $2',
        values: [interval.start, interval.end],
      }),
    });
    arrived.then(count);
  },
);
