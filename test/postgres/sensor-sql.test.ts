/** The SQL sensor against a real PostgreSQL, defined through t.sqlSensor and run the way a task thread runs it. */
import { describe, expect, it } from 'vitest';
import { dag } from '../../src/dag/builder.js';
import type { SqlSensorConfig } from '../../src/operators/sensor/config.js';
import { RescheduleSensor, runSensor } from '../../src/operators/sensor/run.js';
import type { CompiledSensor } from '../../src/operators/sensor/config.js';
import { OperatorError } from '../../src/operators/types.js';
import { operatorHarness, useScratchDatabases } from '../support/operators.js';

const dbs = useScratchDatabases(['shop']);
const harness = () => operatorHarness({ shop: dbs.url('shop') }, 'sql_sensor');

/** The stored config of a sql sensor, as the DAG builder makes it. */
function sensorConfig(config: SqlSensorConfig): CompiledSensor {
  const d = dag({ id: 'sensing' }, (t) => void t.sqlSensor('check', config));
  return d.tasks.get('check')!.config as CompiledSensor;
}

// The harness's run covers [2026-01-01, 2026-01-02).
const poke = (config: SqlSensorConfig, abort?: AbortController) => runSensor('sql_sensor', sensorConfig(config), undefined, harness().context(abort ? { abort } : {}), null);

describe('sql sensor', () => {
  it("'rows exist for this interval': waits for a row with the column in [start, end), identifiers quoted", async () => {
    await dbs.query('shop', 'create schema "Sales"; create table "Sales"."Order""s" (id int, "Created At" timestamptz)');
    // Rows just outside the interval do not count: one before it, one at its (excluded) end.
    await dbs.query('shop', `insert into "Sales"."Order""s" values (1, '2025-12-31T23:59:59Z'), (2, '2026-01-02T00:00:00Z')`);
    const config: SqlSensorConfig = { conn: 'shop', table: 'Sales.Order"s', column: 'Created At', interval: '50ms', timeout: '250ms' };
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
      sql: ({ interval }) => ({ text: 'select count(*) from loads where day = $1::date and done', values: [interval.start.toISOString().slice(0, 10)] }),
      interval: '50ms',
      timeout: '150ms',
      softFail: true,
    };
    // softFail: the timeout skips the task.
    await expect(poke(config)).rejects.toMatchObject({ name: 'SkipTask', message: 'sensor timed out after 150ms (softFail)' });
    await dbs.query('shop', "insert into loads values ('2026-01-01', true)");
    await expect(poke(config)).resolves.toBeUndefined();
    // No row at all, or a first column that is false: not yet.
    await expect(poke({ conn: 'shop', sql: 'select 1 from loads where false', interval: '50ms', timeout: '50ms' })).rejects.toThrow('sensor timed out after 50ms');
    await expect(poke({ conn: 'shop', sql: 'select done from loads where not done', interval: '50ms', timeout: '50ms' })).rejects.toThrow('timed out');
  });

  it('a failing query fails the try, naming the field; a reschedule-mode sensor ends its try with the next poke', async () => {
    const error = await poke({ conn: 'shop', sql: 'select * from nowhere', interval: '50ms', timeout: '1s' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect(error).toMatchObject({ message: 'sql_sensor sql: relation "nowhere" does not exist', retryable: false });

    await dbs.query('shop', 'create table empty_one (at timestamptz)');
    const before = Date.now();
    const rescheduled = (await poke({ conn: 'shop', table: 'empty_one', column: 'at', mode: 'reschedule', interval: '30s' }).catch((e: unknown) => e)) as RescheduleSensor;
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
