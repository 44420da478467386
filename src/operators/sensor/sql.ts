/**
 * The SQL sensor's poke, as Airflow's SqlSensor: true when the query returns a row whose
 * first column (if it has one) is neither null, false, 0, '0' nor ''. The table form asks
 * whether rows of the run's data interval exist:
 *
 *   select 1 from "public"."orders" where "created_at" >= $1 and "created_at" < $2 limit 1
 *
 * with the interval's start and end as parameters, on the connection's pool as the sql
 * operator gets it (OperatorContext.connection, withClient: an abort cancels the query).
 */
import type pg from 'pg';
import { quoteIdent } from '../../db/quote.js';
import { fieldError, withClient } from '../pg.js';
import type { Statement } from '../../dag/operators/statement.js';
import { resolveStatements } from '../statement.js';
import type { OperatorContext } from '../types.js';
import type { SqlSensorSettings } from '../../dag/operators/sensor.js';

const OPERATOR = 'sql_sensor';

export async function sqlPoke(config: SqlSensorSettings, ctx: OperatorContext): Promise<boolean> {
  const { statement, field } = await statementOf(config, ctx);
  const pool = await ctx.connection(config.conn, 'conn');
  return withClient(pool, ctx.task.signal, { operator: OPERATOR, field: 'conn', conn: config.conn }, async (client) => {
    let result: pg.QueryResult;
    try {
      result = await client.query({
        text: statement.text,
        values: statement.values as unknown[] | undefined,
        rowMode: 'array',
      });
    } catch (error) {
      throw fieldError(OPERATOR, field, error);
    }
    const row = (result.rows as unknown[][])[0];
    if (!row) return false;
    return row.length === 0 || isTruthyCell(row[0]);
  });
}

/** What the poke runs: the user's statement, or the interval query on `table`. */
async function statementOf(
  config: SqlSensorSettings,
  ctx: OperatorContext,
): Promise<{ statement: Statement; field: string }> {
  if (config.table !== undefined && config.column !== undefined) {
    const column = quoteIdent([config.column]);
    const { start, end } = ctx.task.interval;
    return {
      statement: {
        text: `select 1 from ${quoteIdent(config.table)} where ${column} >= $1 and ${column} < $2 limit 1`,
        values: [start, end],
      },
      field: 'table',
    };
  }
  const [statement] = await resolveStatements(config.sql, ctx.task, OPERATOR, 'sql');
  return { statement: statement!, field: 'sql' };
}

/** Airflow's SqlSensor criterion for the first cell (counts come back from pg as strings). */
function isTruthyCell(cell: unknown): boolean {
  if (cell === null || cell === undefined || cell === false || cell === 0 || cell === 0n) return false;
  if (typeof cell === 'string') return cell !== '' && cell !== '0' && cell !== 'f' && cell !== 'false';
  return true;
}
