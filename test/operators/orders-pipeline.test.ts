/**
 * The operators through the whole engine, on both Updraft drivers: the orders_pipeline
 * example (sync, cleanse, sql, a task, report) on real shop and warehouse databases,
 * and the failure paths a user meets first (an unknown connection, a timeout).
 */
import { readFile } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorState, reports, taskInstances, taskLogs } from '../../src/db/schema.js';
import { createOrderEvents } from '../../examples/orders-data.js';
import { useEngine } from '../support/engine.js';
import { ROOT } from '../support/cli.js';
import { useScratchDatabases } from '../support/operators.js';

// The example as shipped, starting in 2100 so that the test, not the clock, decides its runs.
const EXAMPLE = (await readFile(`${ROOT}/dags/orders_pipeline.ts`, 'utf8')).replace(
  "startDate: '2026-01-01'",
  "startDate: '2100-01-01'",
);
const FAILURES = `import { dag } from 'updraft';
export default dag({ id: 'operator_failures', schedule: null, defaults: { retries: 1, retryDelay: '100ms' } }, (t) => {
  t.sql('unknown_conn', { conn: 'nowhere', sql: 'select 1' });
  t.sql('slow', { conn: 'warehouse', sql: 'select pg_sleep(30) as slow_query_marker', timeout: '1s', retries: 0 });
  t.task('leaky', async () => {
    console.log('connecting to', process.env.UPDRAFT_CONN_WAREHOUSE);
    throw new Error('cannot use ' + process.env.UPDRAFT_CONN_WAREHOUSE);
  });
});
`;

const dbs = useScratchDatabases(['shop', 'warehouse']);
let events = 0;
const saved = { shop: process.env.UPDRAFT_CONN_SHOP, warehouse: process.env.UPDRAFT_CONN_WAREHOUSE };
beforeAll(async () => {
  const shop = new pg.Client({ connectionString: dbs.url('shop') });
  await shop.connect();
  events = await createOrderEvents(shop, 2_000).finally(() => shop.end());
  // The executor answers a thread's connection question from the environment first. The
  // server trusts local connections, so a password in the URL is accepted and unused:
  // there to be masked.
  process.env.UPDRAFT_CONN_SHOP = withPassword(dbs.url('shop'));
  process.env.UPDRAFT_CONN_WAREHOUSE = withPassword(dbs.url('warehouse'));
});
afterAll(() => {
  for (const [name, value] of Object.entries(saved)) {
    const key = `UPDRAFT_CONN_${name.toUpperCase()}`;
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

const PASSWORD = 'pipeline-s3cret';
function withPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
}

const setup = useEngine({ 'orders_pipeline.ts': EXAMPLE, 'failures.ts': FAILURES });
const yesterday = () => new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000);

describe('the orders_pipeline example', () => {
  it('syncs, cleanses, aggregates and reports in one green run', async () => {
    const { h, database } = setup();
    const run = await h.run('orders_pipeline', { logicalDate: yesterday() });
    expect(run.state, JSON.stringify(run.tasks, null, 1)).toBe('success');
    const {
      extract_orders: extract,
      clean_orders: clean,
      daily_totals: totals,
      check_totals: check,
      sales_report: report,
    } = run.tasks;
    expect(extract).toMatchObject({
      state: 'success',
      result: { mode: 'incremental', rowsRead: events, rowsWritten: events, created: true },
    });
    const cleansed = clean!.result as { rowsIn: number; rejected: number; deduplicated: number; rowsOut: number };
    expect(cleansed.rowsIn).toBe(events);
    expect(cleansed.rejected).toBeGreaterThan(0);
    expect(cleansed.deduplicated).toBeGreaterThan(0);
    expect(cleansed.rowsOut).toBe(events - cleansed.rejected - cleansed.deduplicated);
    expect(totals).toMatchObject({ state: 'success', result: { command: 'INSERT' } });
    expect(check!.state).toBe('success');
    expect(report).toMatchObject({
      state: 'success',
      result: { format: 'html', title: 'Paid orders per day (last 14 days)' },
    });

    // What the warehouse holds is clean: no stray case or whitespace, every country known, one row per order.
    const [quality] = await dbs.query(
      'warehouse',
      `select count(*) filter (where customer_email <> lower(btrim(customer_email)))::int as dirty_emails,
              count(*) filter (where country is null or country <> upper(btrim(country)))::int as dirty_countries,
              count(*)::int - count(distinct order_id)::int as duplicates
         from clean.orders`,
    );
    expect(quality).toEqual({ dirty_emails: 0, dirty_countries: 0, duplicates: 0 });
    const [rejected] = await dbs.query<{ n: number }>(
      'warehouse',
      'select count(*)::int as n from staging.order_events_rejected',
    );
    expect(rejected!.n).toBe(cleansed.rejected);

    // The watermark and the report were kept with the tasks' success.
    const state = await database.db.select().from(operatorState).where(eq(operatorState.dagId, 'orders_pipeline'));
    expect(state).toEqual([expect.objectContaining({ taskId: 'extract_orders', key: 'watermark' })]);
    const [kept] = await database.db.select().from(reports).where(eq(reports.dagId, 'orders_pipeline'));
    expect(kept).toMatchObject({ taskId: 'sales_report', runId: run.runId, format: 'html' });
    expect(kept!.content).toContain('<svg');
  });

  it('a later run reads only the rows above the watermark less the lookback, and stays green', async () => {
    const { h, database } = setup();
    const [kept] = await database.db.select().from(operatorState).where(eq(operatorState.dagId, 'orders_pipeline'));
    const mark = kept!.value as string;
    // Two late events: one committed within the 10-minute lookback below the mark, one long before it.
    await dbs.query(
      'shop',
      `insert into public.order_events (order_id, customer_email, country, amount, ordered_at, status, updated_at)
       values (900001, 'late@example.com', 'DE', '10.00', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'paid', $1::timestamptz - interval '5 minutes'),
              (900002, 'lost@example.com', 'DE', '10.00', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'paid', $1::timestamptz - interval '1 hour')`,
      [mark],
    );
    const [expected] = await dbs.query<{ n: number }>(
      'shop',
      `select count(*)::int as n from public.order_events where updated_at > $1::timestamptz - interval '10 minutes'`,
      [mark],
    );
    const today = new Date(yesterday().getTime() + 86_400_000);
    const run = await h.run('orders_pipeline', { logicalDate: today });
    expect(run.state, JSON.stringify(run.tasks, null, 1)).toBe('success');
    expect(run.tasks.extract_orders!.result).toMatchObject({ rowsRead: expected!.n, watermark: mark });
    const landed = await dbs.query<{ order_id: string }>(
      'warehouse',
      'select order_id from staging.order_events where order_id > 900000',
    );
    expect(landed).toEqual([{ order_id: '900001' }]);
  });
});

describe('operator failures through the engine', () => {
  it('an unknown connection fails the task naming the operator and field, without retrying', async () => {
    const { h } = setup();
    const run = await h.run('operator_failures');
    expect(run.state).toBe('failed');
    expect(run.tasks.unknown_conn).toMatchObject({ state: 'failed', tryNumber: 1 });
    expect(run.tasks.unknown_conn!.error).toMatch(
      /^sql conn: unknown connection 'nowhere': set UPDRAFT_CONN_NOWHERE=postgres:\/\/\.\.\. or add it with 'updraft connections add nowhere <url>'/,
    );
    // The timeout aborted the try, and the query was cancelled on the server, not left running.
    expect(run.tasks.slow).toMatchObject({ state: 'failed', error: 'timed out after 1s' });
    const still = await dbs.query<{ n: number }>(
      'warehouse',
      `select count(*)::int as n from pg_stat_activity where query like '%slow_query_marker%' and state = 'active' and pid <> pg_backend_pid()`,
    );
    expect(still).toEqual([{ n: 0 }]);
  });

  it("masks a connection's password in what a task logs and in its error", async () => {
    const { h, database } = setup();
    const run = await h.run('operator_failures');
    const shown = process.env.UPDRAFT_CONN_WAREHOUSE!.replace(PASSWORD, '***');
    expect(shown).toMatch(/^postgres:\/\/postgres:\*\*\*@/);
    expect(run.tasks.leaky!.error).toBe(`cannot use ${shown}`);
    const lines = await database.db
      .select({ message: taskLogs.message })
      .from(taskLogs)
      .innerJoin(taskInstances, eq(taskInstances.id, taskLogs.taskInstanceId))
      .where(eq(taskInstances.runId, run.id));
    expect(lines.map((l) => l.message)).toContain(`connecting to ${shown}`);
  });
});
