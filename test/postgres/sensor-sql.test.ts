/** The SQL sensor against a real PostgreSQL, defined through t.sqlSensor and run the way a task thread runs it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dag } from '../../src/dag/builder.js';
import type { SqlSensorConfig } from '../../src/dag/operators/sensor.js';
import { RescheduleSensor, runSensor } from '../../src/operators/sensor/run.js';
import type { CompiledSensor } from '../../src/dag/operators/sensor.js';
import { OperatorError } from '../../src/operators/types.js';
import { useEngine } from '../support/engine.js';
import { operatorHarness, useScratchDatabases } from '../support/operators.js';

const dbs = useScratchDatabases(['shop']);
const harness = () => operatorHarness({ shop: dbs.url('shop') }, 'sql_sensor');

/** The stored config of a sql sensor, as the DAG builder makes it. */
function sensorConfig(config: SqlSensorConfig): CompiledSensor {
  const d = dag({ id: 'sensing' }, (t) => void t.sqlSensor('check', config));
  return d.tasks.get('check')!.config as CompiledSensor;
}

// The harness's run covers [2026-01-01, 2026-01-02).
const poke = (config: SqlSensorConfig, abort?: AbortController) =>
  runSensor('sql_sensor', sensorConfig(config), undefined, harness().context(abort ? { abort } : {}), null);

describe('sql sensor', () => {
  it("'rows exist for this interval': waits for a row with the column in [start, end), identifiers quoted", async () => {
    await dbs.query(
      'shop',
      'create schema "Sales"; create table "Sales"."Order""s" (id int, "Created At" timestamptz)',
    );
    // Rows just outside the interval do not count: one before it, one at its (excluded) end.
    await dbs.query(
      'shop',
      `insert into "Sales"."Order""s" values (1, '2025-12-31T23:59:59Z'), (2, '2026-01-02T00:00:00Z')`,
    );
    const config: SqlSensorConfig = {
      conn: 'shop',
      table: 'Sales.Order"s',
      column: 'Created At',
      interval: '50ms',
      timeout: '250ms',
    };
    await expect(poke(config)).rejects.toThrow('sensor timed out after 250ms');

    const waiting = poke({ ...config, timeout: '20s' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await dbs.query('shop', `insert into "Sales"."Order""s" values (3, '2026-01-01T12:00:00Z')`);
    await expect(waiting).resolves.toBeUndefined();
  });

  it('a query: true when it returns a row whose first column is truthy (a count of 0 is not)', async () => {
    await dbs.query('shop', 'create table loads (day date, done boolean)');
    const config: SqlSensorConfig = {
      conn: 'shop',
      sql: ({ interval }) => ({
        text: 'select count(*) from loads where day = $1::date and done',
        values: [interval.start.toISOString().slice(0, 10)],
      }),
      interval: '50ms',
      timeout: '150ms',
      softFail: true,
    };
    // softFail: the timeout skips the task.
    await expect(poke(config)).rejects.toMatchObject({
      name: 'SkipTask',
      message: 'sensor timed out after 150ms (softFail)',
    });
    await dbs.query('shop', "insert into loads values ('2026-01-01', true)");
    await expect(poke(config)).resolves.toBeUndefined();
    // No row at all, or a first column that is false: not yet.
    await expect(
      poke({ conn: 'shop', sql: 'select 1 from loads where false', interval: '50ms', timeout: '50ms' }),
    ).rejects.toThrow('sensor timed out after 50ms');
    await expect(
      poke({ conn: 'shop', sql: 'select done from loads where not done', interval: '50ms', timeout: '50ms' }),
    ).rejects.toThrow('timed out');
  });

  it('a failing query fails the try, naming the field; a reschedule-mode sensor ends its try with the next poke', async () => {
    const error = await poke({ conn: 'shop', sql: 'select * from nowhere', interval: '50ms', timeout: '1s' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OperatorError);
    expect(error).toMatchObject({ message: 'sql_sensor sql: relation "nowhere" does not exist', retryable: false });

    await dbs.query('shop', 'create table empty_one (at timestamptz)');
    const before = Date.now();
    const rescheduled = (await poke({
      conn: 'shop',
      table: 'empty_one',
      column: 'at',
      mode: 'reschedule',
      interval: '30s',
    }).catch((e: unknown) => e)) as RescheduleSensor;
    expect(rescheduled).toBeInstanceOf(RescheduleSensor);
    expect(rescheduled.nextPokeAt.getTime() - rescheduled.firstPokeAt.getTime()).toBeGreaterThanOrEqual(30_000);
    expect(rescheduled.firstPokeAt.getTime()).toBeGreaterThanOrEqual(before - 5);
  });

  it('an abort ends the wait between pokes at once', async () => {
    await dbs.query('shop', 'create table never_filled (at timestamptz)');
    const abort = new AbortController();
    const started = Date.now();
    const waiting = poke({ conn: 'shop', table: 'never_filled', column: 'at', interval: '30s' }, abort);
    setTimeout(() => abort.abort(new Error('timed out after 200ms')), 200);
    await expect(waiting).rejects.toThrow('timed out after 200ms');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('sql sensor in a DAG run', () => {
  const DAG = `import { dag } from 'updraft';
// Daily, starting far ahead: no scheduled run, and a manual run covers the day before its logical date.
export const arrivals = dag({ id: 'arrivals', schedule: '@daily', startDate: '2100-01-01' }, (t) => {
  const arrived = t.sqlSensor('orders_in_interval', { conn: 'shop', table: 'public.orders', column: 'created_at', mode: 'reschedule', interval: '100ms', timeout: '30s' });
  arrived.then(t.sql('count', { conn: 'shop', sql: ({ interval }) => ({ text: 'select count(*)::int as n from orders where created_at >= $1 and created_at < $2', values: [interval.start, interval.end] }) }));
});
`;
  let savedConn: string | undefined;
  beforeAll(async () => {
    // Read by the engine when a task asks for the connection, so set before any run.
    savedConn = process.env.UPDRAFT_CONN_SHOP;
    process.env.UPDRAFT_CONN_SHOP = dbs.url('shop');
    await dbs.query('shop', 'create table public.orders (id int, created_at timestamptz)');
  });
  afterAll(() => {
    if (savedConn === undefined) delete process.env.UPDRAFT_CONN_SHOP;
    else process.env.UPDRAFT_CONN_SHOP = savedConn;
  });
  const setup = useEngine({ 'arrivals.ts': DAG });

  it("waits up_for_reschedule until the run's interval has rows, then lets the downstream task count them", async () => {
    const { h } = setup();
    const rescheduled = h.next(
      'task:state',
      (c) => c.taskId === 'orders_in_interval' && c.state === 'up_for_reschedule',
    );
    // Its interval: [2026-02-28, 2026-03-01). The second row is at its (excluded) end.
    const { finished } = await h.trigger('arrivals', { logicalDate: new Date('2026-03-01T00:00:00Z') });
    await rescheduled;
    await dbs.query(
      'shop',
      "insert into public.orders values (1, '2026-02-28T12:00:00Z'), (2, '2026-03-01T00:00:00Z')",
    );
    const run = await finished;
    expect(run.state).toBe('success');
    expect(run.tasks.orders_in_interval).toMatchObject({ state: 'success', tryNumber: 1 });
    expect(run.tasks.count).toMatchObject({ state: 'success', result: { rows: [{ n: 1 }] } });
  });
});
