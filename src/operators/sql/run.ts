/** The sql operator: statements on a named connection, values always bound as parameters. */
import type pg from 'pg';
import { commitUnlessAborted, fieldError, withClient } from '../pg.js';
import { resolveStatements } from '../statement.js';
import type { Operator, OperatorContext } from '../types.js';
import { DEFAULT_MAX_ROWS, sqlSchema, type SqlConfig, type SqlResult } from '../../dag/operators/sql.js';

export const sqlOperator: Operator<SqlConfig> = {
  name: 'sql',
  schema: sqlSchema,
  run: runSql,
};

async function runSql(config: SqlConfig, ctx: OperatorContext): Promise<SqlResult> {
  const statements = await resolveStatements(config.sql, ctx.task, 'sql', 'sql');
  const pool = await ctx.connection(config.conn, 'conn');
  const maxRows = config.maxRows ?? DEFAULT_MAX_ROWS;
  const inTransaction = config.transaction ?? true;
  const { signal, log } = ctx.task;
  const done: { command: string; rowCount: number }[] = [];
  let lastRows: unknown[] = [];

  await withClient(pool, signal, { operator: 'sql', field: 'conn', conn: config.conn }, async (client) => {
    const run = async <T>(field: string, fn: () => Promise<T>): Promise<T> => {
      // An abort between statements stops here; one during a statement cancels it on the server (withClient).
      signal.throwIfAborted();
      try {
        return await fn();
      } catch (error) {
        // The client is discarded by withClient, which ends an open transaction with it.
        throw fieldError('sql', field, error);
      }
    };
    if (inTransaction) await run('conn', () => client.query('begin'));
    for (const [i, statement] of statements.entries()) {
      const field = statements.length > 1 ? `sql[${i}]` : 'sql';
      const result = await run(field, () =>
        client.query({ text: statement.text, values: statement.values as unknown[] | undefined }),
      );
      // Text with several statements and no values goes through the simple protocol: one result per statement.
      for (const part of Array.isArray(result) ? (result as pg.QueryResult[]) : [result]) {
        const command = part.command ?? '';
        const rowCount = part.rowCount ?? part.rows.length;
        done.push({ command, rowCount });
        lastRows = part.rows;
        log.info(`${field}: ${command} ${rowCount}`);
      }
    }
    if (inTransaction) await run('conn', () => commitUnlessAborted(client, signal));
  });

  const final = done.at(-1)!;
  return {
    command: final.command,
    rowCount: final.rowCount,
    rows: lastRows.slice(0, maxRows) as Record<string, unknown>[],
    truncated: lastRows.length > maxRows,
    statements: done,
  };
}
