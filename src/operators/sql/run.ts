/** The sql operator: statements on a named connection, values always bound as parameters. */
import type pg from 'pg';
import { fieldError, withClient } from '../pg.js';
import { resolveStatements } from '../statement.js';
import type { Operator, OperatorContext } from '../types.js';
import { DEFAULT_MAX_ROWS, sqlSchema, type SqlConfig, type SqlResult } from './config.js';

export const sqlOperator: Operator<SqlConfig> = {
  name: 'sql',
  schema: sqlSchema,
  async run(config, ctx) {
    return runSql(config, ctx);
  },
};

async function runSql(config: SqlConfig, ctx: OperatorContext): Promise<SqlResult> {
  const statements = await resolveStatements(config.sql, ctx.task, 'sql');
  const pool = await ctx.connection(config.conn, 'conn');
  const maxRows = config.maxRows ?? DEFAULT_MAX_ROWS;
  const inTransaction = config.transaction ?? true;
  const done: { command: string; rowCount: number }[] = [];
  let last: pg.QueryResult | undefined;

  await withClient(pool, ctx.task.signal, { operator: 'sql', field: 'conn', conn: config.conn }, async (client) => {
    if (inTransaction) await client.query('begin');
    for (const [i, statement] of statements.entries()) {
      const field = statements.length > 1 ? `sql[${i}]` : 'sql';
      try {
        last = await client.query({ text: statement.text, values: statement.values as unknown[] | undefined });
      } catch (error) {
        // The client is discarded by withClient, which ends the transaction with it.
        throw fieldError('sql', field, error);
      }
      const command = last.command ?? '';
      const rowCount = last.rowCount ?? last.rows.length;
      done.push({ command, rowCount });
      ctx.task.log.info(`${field}: ${command} ${rowCount}`);
    }
    if (inTransaction) await client.query('commit');
  });

  const rows = last?.rows ?? [];
  const final = done.at(-1)!;
  return { command: final.command, rowCount: final.rowCount, rows: rows.slice(0, maxRows), truncated: rows.length > maxRows, statements: done };
}
