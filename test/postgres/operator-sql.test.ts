import { describe, expect, it } from 'vitest';
import { sqlOperator } from '../../src/operators/sql/run.js';
import type { SqlConfig } from '../../src/operators/sql/config.js';
import { operatorHarness, useScratchDatabases } from '../support/operators.js';

const dbs = useScratchDatabases(['wh']);
const harness = () => operatorHarness({ wh: dbs.url('wh') }, 'sql');
const run = (h: ReturnType<typeof harness>, config: SqlConfig, overrides = {}) => sqlOperator.run(sqlOperator.schema.parse(config), h.context(overrides));

describe('sql operator', () => {
  it('binds values from the context as parameters and returns the row count and rows', async () => {
    const h = harness();
    await run(h, { conn: 'wh', sql: 'create table events (id int primary key, at timestamptz, note text)' });
    const inserted = await run(h, {
      conn: 'wh',
      // A quote in a value would break spliced SQL; bound, it is just data.
      sql: ({ interval }) => ({ text: 'insert into events values (1, $1, $2), (2, $3, $2)', values: [interval.start, "it's bound", interval.end] }),
    });
    expect(inserted).toMatchObject({ command: 'INSERT', rowCount: 2, rows: [], truncated: false });
    const selected = await run(h, { conn: 'wh', sql: 'select id, note from events order by id', maxRows: 1 });
    expect(selected).toMatchObject({ command: 'SELECT', rowCount: 2, rows: [{ id: 1, note: "it's bound" }], truncated: true });
  });
});
