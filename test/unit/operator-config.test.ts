/** Operator configs are checked when the DAG file is parsed: errors name the DAG, the task and the field. */
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

describe('operator configs', () => {
  it('keeps task options beside the config, and stores functions as [function]', () => {
    const d = dag({ id: 'd' }, (t) => {
      const totals = t.sql('totals', {
        conn: 'wh',
        sql: ({ interval }) => ({ text: 'select $1', values: [interval.start] }),
        retries: 3,
        pool: 'warehouse',
      });
      const report = t.report('report', { conn: 'wh', query: 'select 1 as x', format: 'csv' });
      totals.then(report);
    });
    const [totals, report] = d.serialize().tasks;
    expect(totals).toEqual({
      id: 'totals',
      operator: 'sql',
      retries: 3,
      pool: 'warehouse',
      config: { conn: 'wh', sql: '[function]' },
    });
    expect(report).toEqual({
      id: 'report',
      operator: 'report',
      config: { conn: 'wh', query: 'select 1 as x', format: 'csv' },
    });
    // The thread gets the function itself.
    expect(typeof (d.tasks.get('totals')!.config as { sql: unknown }).sql).toBe('function');
  });

  it.each([
    [
      'sync without a key in incremental mode',
      (t: any) =>
        t.sync('s', {
          from: { conn: 'a', table: 'x' },
          to: { conn: 'b', table: 'y' },
          incremental: { column: 'updated_at' },
        }),
      "task 's' (sync): key: required with incremental",
      'tasks.s.key',
    ],
    [
      'sync with a source that is neither table nor query',
      (t: any) => t.sync('s', { from: { conn: 'a' }, to: { conn: 'b', table: 'y' } }),
      "task 's' (sync): from: expected { conn, table } or { conn, query }",
      'tasks.s.from',
    ],
    [
      'sync with a bad lookback',
      (t: any) =>
        t.sync('s', {
          from: { conn: 'a', table: 'x' },
          to: { conn: 'b', table: 'y' },
          key: ['id'],
          incremental: { column: 'u', lookback: 'soon' },
        }),
      'incremental.lookback: invalid duration',
      'tasks.s.incremental.lookback',
    ],
    [
      'sql with a bad connection name',
      (t: any) => t.sql('q', { conn: 'my-db', sql: 'select 1' }),
      "task 'q' (sql): conn: a connection name",
      'tasks.q.conn',
    ],
    ['sql with no statement', (t: any) => t.sql('q', { conn: 'wh', sql: [] }), 'sql: ', 'tasks.q.sql'],
    [
      'cleanse with an unknown rule',
      (t: any) => t.cleanse('c', { conn: 'wh', table: 't', rules: [{ rule: 'titlecase', columns: ['a'] }] }),
      "task 'c' (cleanse): rules.0.rule",
      'tasks.c.rules.0.rule',
    ],
    [
      'cleanse with a broken regex',
      (t: any) => t.cleanse('c', { conn: 'wh', table: 't', rules: [{ rule: 'regex', column: 'a', pattern: '(' }] }),
      'rules.0.pattern: is not a valid regular expression',
      'tasks.c.rules.0.pattern',
    ],
    [
      'report with a chart outside HTML',
      (t: any) => t.report('r', { conn: 'wh', query: 'select 1', format: 'csv', chart: { x: 'a', y: ['b'] } }),
      "chart: charts are drawn in HTML reports only (format: 'html')",
      'tasks.r.chart',
    ],
    [
      'an unknown option',
      (t: any) => t.report('r', { conn: 'wh', query: 'select 1', format: 'csv', colour: 'red' }),
      "unknown option 'colour'",
      'tasks.r',
    ],
  ])('rejects %s', (_name, build, message, field) => {
    const error = definitionError(build);
    expect(error.message).toContain(message);
    expect(error.message).toMatch(/^DAG 'd': task/);
    expect(error.field).toBe(field);
  });

  it('checks task options given with the config', () => {
    expect(definitionError((t) => t.sql('q', { conn: 'wh', sql: 'select 1', retries: -1 })).message).toContain(
      "task 'q': retries",
    );
  });
});
