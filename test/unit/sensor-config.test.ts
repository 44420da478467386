/** Sensor definitions are checked when the DAG file is parsed: errors name the DAG, the task and the field. */
import { describe, expect, it } from 'vitest';
import { dag } from '../../src/dag/builder.js';
import { DagDefinitionError } from '../../src/errors.js';

function definitionError(build: Parameters<typeof dag>[1]): DagDefinitionError {
  try {
    dag({ id: 'd' }, build);
  } catch (error) {
    if (error instanceof DagDefinitionError) return error;
    throw error;
  }
  throw new Error('expected a DagDefinitionError');
}

describe('sensor definitions', () => {
  it("have Airflow's defaults, keep task options apart, and store the poke in the module only", () => {
    const d = dag({ id: 'd', defaults: { timeout: '10m' } }, (t) => {
      t.sensor('wait', { poke: () => true, retries: 2 });
      t.sensor('resched', {
        poke: () => false,
        mode: 'reschedule',
        interval: '5m',
        timeout: '1h',
        softFail: true,
        executionTimeout: '30s',
      });
      t.sqlSensor('rows', { conn: 'shop', table: 'public.orders', column: 'created_at', pool: 'shop' });
    });
    const [wait, resched, rows] = d.serialize().tasks;
    expect(wait).toEqual({
      id: 'wait',
      operator: 'sensor',
      retries: 2,
      config: { intervalMs: 60_000, timeoutMs: 7 * 86_400_000, mode: 'poke', softFail: false },
    });
    // `timeout` is the sensor's; the try's own limit is executionTimeout (the task option timeout).
    expect(resched).toEqual({
      id: 'resched',
      operator: 'sensor',
      timeoutMs: 30_000,
      config: { intervalMs: 300_000, timeoutMs: 3_600_000, mode: 'reschedule', softFail: true },
    });
    expect(rows).toEqual({
      id: 'rows',
      operator: 'sql_sensor',
      pool: 'shop',
      config: {
        intervalMs: 60_000,
        timeoutMs: 7 * 86_400_000,
        mode: 'poke',
        softFail: false,
        conn: 'shop',
        table: 'public.orders',
        column: 'created_at',
      },
    });
    expect(typeof d.tasks.get('wait')!.fn).toBe('function');
  });

  it.each([
    [
      'no poke function',
      (t: any) => t.sensor('s', { interval: '1s' }),
      "DAG 'd': task 's' (sensor): poke: expected a function",
      'tasks.s.poke',
    ],
    [
      'an interval of 0',
      (t: any) => t.sensor('s', { poke: () => true, interval: 0 }),
      "DAG 'd': task 's' (sensor): interval: must be longer than 0",
      'tasks.s.interval',
    ],
    [
      'a bad interval',
      (t: any) => t.sensor('s', { poke: () => true, interval: 'often' }),
      'interval: invalid duration "often"',
      'tasks.s.interval',
    ],
    [
      'a timeout shorter than the interval',
      (t: any) => t.sensor('s', { poke: () => true, interval: '5m', timeout: '1m' }),
      "DAG 'd': task 's' (sensor): timeout (1m) must be at least the interval (5m)",
      'tasks.s.timeout',
    ],
    [
      'an unknown mode',
      (t: any) => t.sensor('s', { poke: () => true, mode: 'deferrable' }),
      "DAG 'd': task 's' (sensor): mode: must be one of 'poke', 'reschedule'",
      'tasks.s.mode',
    ],
    [
      'a softFail that is not a boolean',
      (t: any) => t.sensor('s', { poke: () => true, softFail: 'yes' }),
      "task 's' (sensor): softFail",
      'tasks.s.softFail',
    ],
    [
      'a bad executionTimeout',
      (t: any) => t.sensor('s', { poke: () => true, executionTimeout: 'long' }),
      "task 's' (sensor): executionTimeout: invalid duration",
      'tasks.s.executionTimeout',
    ],
    [
      'an unknown option',
      (t: any) => t.sensor('s', { poke: () => true, pokeInterval: '1s' }),
      "task 's': unknown option 'pokeInterval'",
      undefined,
    ],
    [
      'a sql sensor with both sql and table',
      (t: any) => t.sqlSensor('q', { conn: 'wh', sql: 'select 1', table: 't', column: 'c' }),
      "task 'q' (sql_sensor): sql: give either sql, or table and column, not both",
      'tasks.q.sql',
    ],
    [
      'a sql sensor with a table and no column',
      (t: any) => t.sqlSensor('q', { conn: 'wh', table: 'public.orders' }),
      "task 'q' (sql_sensor): column: required with table ('public.orders')",
      'tasks.q.column',
    ],
    [
      'a sql sensor with neither',
      (t: any) => t.sqlSensor('q', { conn: 'wh' }),
      'sql: give sql, or table and column',
      'tasks.q.sql',
    ],
    [
      'a sql sensor with a bad connection name',
      (t: any) => t.sqlSensor('q', { conn: 'my-db', sql: 'select 1' }),
      "task 'q' (sql_sensor): conn: a connection name",
      'tasks.q.conn',
    ],
  ])('rejects %s', (_name, build, message, field) => {
    const error = definitionError(build);
    expect(error.message).toContain(message);
    if (field !== undefined) expect(error.field).toBe(field);
  });
});
