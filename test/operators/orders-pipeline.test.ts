/**
 * The operators through the whole engine, on both Updraft drivers: the orders_pipeline
 * example (sync, cleanse, sql, a task, report) on real shop and warehouse databases,
 * and the failure paths a user meets first (an unknown connection, a timeout).
 */
import { readFile } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorState, reports } from '../../src/db/schema.js';
import { createOrderEvents } from '../../examples/orders-data.js';
import { useEngine } from '../support/engine.js';
import { ROOT } from '../support/cli.js';
import { useScratchDatabases } from '../support/operators.js';

// The example as shipped, starting in 2100 so that the test, not the clock, decides its runs.
const EXAMPLE = (await readFile(`${ROOT}/dags/orders_pipeline.ts`, 'utf8')).replace("startDate: '2026-01-01'", "startDate: '2100-01-01'");
const FAILURES = `import { dag } from 'updraft';
export default dag({ id: 'operator_failures', schedule: null, defaults: { retries: 1, retryDelay: '100ms' } }, (t) => {
  t.sql('unknown_conn', { conn: 'nowhere', sql: 'select 1' });
  t.sql('slow', { conn: 'warehouse', sql: 'select pg_sleep(30) as slow_query_marker', timeout: '1s', retries: 0 });
});
`;

const dbs = useScratchDatabases(['shop', 'warehouse']);
let events = 0;
const saved = { shop: process.env.UPDRAFT_CONN_SHOP, warehouse: process.env.UPDRAFT_CONN_WAREHOUSE };
beforeAll(async () => {
  const shop = new pg.Client({ connectionString: dbs.url('shop') });
  await shop.connect();
  events = await createOrderEvents(shop, 2_000).finally(() => shop.end());
  // The executor answers a thread's connection question from the environment first.
  process.env.UPDRAFT_CONN_SHOP = dbs.url('shop');
  process.env.UPDRAFT_CONN_WAREHOUSE = dbs.url('warehouse');
});
afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    const key = `UPDRAFT_CONN_${name.toUpperCase()}`;
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

const setup = useEngine({ 'orders_pipeline.ts': EXAMPLE, 'failures.ts': FAILURES });
const yesterday = () => new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000);

describe('the orders_pipeline example', () => {
  it('syncs, cleanses, aggregates and reports in one green run', async () => {
    const { h, database } = setup();
    const run = await h.run('orders_pipeline', { logicalDate: yesterday() });
    expect(run.state, JSON.stringify(run.tasks, null, 1)).toBe('success');
    const { extract_orders: extract, clean_orders: clean, daily_totals: totals, check_totals: check, sales_report: report } = run.tasks;
    expect(extract).toMatchObject({ state: 'success', result: { mode: 'incremental', rowsRead: events, rowsWritten: events, created: true } });
    const cleansed = clean!.result as { rowsIn: number; rejected: number; deduplicated: number; rowsOut: number };
    expect(cleansed.rowsIn).toBe(events);
    expect(cleansed.rejected).toBeGreaterThan(0);
    expect(cleansed.deduplicated).toBeGreaterThan(0);
    expect(cleansed.rowsOut).toBe(events - cleansed.rejected - cleansed.deduplicated);
    expect(totals).toMatchObject({ state: 'success', result: { command: 'INSERT' } });
    expect(check!.state).toBe('success');
    expect(report).toMatchObject({ state: 'success', result: { format: 'html', title: 'Paid orders per day (last 14 days)' } });

    // What the warehouse holds is clean: no stray case or whitespace, every country known, one row per order.
    const [quality] = await dbs.query(
      'warehouse',
      `select count(*) filter (where customer_email <> lower(btrim(customer_email)))::int as dirty_emails,
              count(*) filter (where country is null or country <> upper(btrim(country)))::int as dirty_countries,
              count(*)::int - count(distinct order_id)::int as duplicates
         from clean.orders`,
    );
    expect(quality).toEqual({ dirty_emails: 0, dirty_countries: 0, duplicates: 0 });
    const [rejected] = await dbs.query<{ n: number }>('warehouse', 'select count(*)::int as n from staging.order_events_rejected');
    expect(rejected!.n).toBe(cleansed.rejected);

    // The watermark and the report were kept with the tasks' success.
    const state = await database.db.select().from(operatorState).where(eq(operatorState.dagId, 'orders_pipeline'));
    expect(state).toEqual([expect.objectContaining({ taskId: 'extract_orders', key: 'watermark' })]);
    const [kept] = await database.db.select().from(reports).where(eq(reports.dagId, 'orders_pipeline'));
    expect(kept).toMatchObject({ taskId: 'sales_report', runId: run.runId, format: 'html' });
    expect(kept!.content).toContain('<svg');
  });

  it('a later run reads only what changed since the watermark (and the lookback), and stays green', async () => {
    const { h } = setup();
    const today = new Date(yesterday().getTime() + 86_400_000);
    const run = await h.run('orders_pipeline', { logicalDate: today });
    expect(run.state, JSON.stringify(run.tasks, null, 1)).toBe('success');
    const extract = run.tasks.extract_orders!.result as { rowsRead: number };
    expect(extract.rowsRead).toBeLessThan(events);
  });
});

describe('operator failures through the engine', () => {
  it('an unknown connection fails the task naming the operator and field, without retrying', async () => {
    const { h } = setup();
    const run = await h.run('operator_failures');
    expect(run.state).toBe('failed');
    expect(run.tasks.unknown_conn).toMatchObject({ state: 'failed', tryNumber: 1 });
    expect(run.tasks.unknown_conn!.error).toMatch(/^sql conn: unknown connection 'nowhere': set UPDRAFT_CONN_NOWHERE=postgres:\/\/\.\.\. or add it with 'updraft connections add nowhere <url>'/);
    // The timeout aborted the try, and the query was cancelled on the server, not left running.
    expect(run.tasks.slow).toMatchObject({ state: 'failed', error: 'timed out after 1s' });
    const still = await dbs.query<{ n: number }>('warehouse', `select count(*)::int as n from pg_stat_activity where query like '%slow_query_marker%' and state = 'active' and pid <> pg_backend_pid()`);
    expect(still).toEqual([{ n: 0 }]);
  });
});
