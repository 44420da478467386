/**
 * The report's query, read through a cursor in a read-only transaction: at most `limit`
 * rows ever leave the server (a query that would return a billion rows costs one
 * batch, not the thread's memory), the user's $1.. parameters are bound to the
 * DECLARE as they are, and a report cannot change data (the transaction is read only
 * and rolled back).
 */
import pg from 'pg';
import { OperatorError } from '../types.js';
import type { Statement } from '../../dag/operators/statement.js';
import type { ReportTable } from './values.js';

/** int2, int4, int8, oid, float4, float8, numeric: right-aligned, and charted even when they arrive as text. */
const NUMERIC_TYPES = new Set([20, 21, 23, 26, 700, 701, 1700]);
const DATE = 1082;
const TIMESTAMP = 1114;
const INTERVAL = 1186;
const CURSOR = 'updraft_report';

/**
 * node-postgres turns a date or a timestamp without time zone into a Date at the
 * thread's local midnight or time, which shifts it when printed as UTC. They are kept
 * as the server wrote them (a timestamp in ISO form, '2026-01-01T10:00:00'), and an
 * interval as its text rather than an object.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === DATE || oid === INTERVAL) return (text: string) => text;
    if (oid === TIMESTAMP) return (text: string) => text.replace(/^(\d{4,}-\d\d-\d\d) /, '$1T');
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Runs `statement` and returns its columns and at most `limit` rows (as arrays). Driver errors pass through. */
export async function fetchAtMost(client: pg.ClientBase, statement: Statement, limit: number): Promise<ReportTable> {
  // Only a query can be a cursor's: say so rather than show DECLARE's syntax error.
  if (!/^\s*(\(|select\b|with\b|values\b|table\b)/i.test(statement.text)) {
    throw new OperatorError(
      'report',
      'query',
      'a report runs a query (SELECT, WITH, VALUES or TABLE); the statement given is none of these',
    );
  }
  await client.query('begin transaction read only');
  let result: pg.QueryArrayResult;
  try {
    await client.query({
      text: `declare ${CURSOR} no scroll cursor for ${statement.text}`,
      values: statement.values as unknown[] | undefined,
    });
    // FETCH takes no parameters; `limit` is an integer from the checked config, not user text.
    result = await client.query<unknown[]>({
      text: `fetch forward ${Math.trunc(limit)} from ${CURSOR}`,
      rowMode: 'array',
      types,
    });
  } catch (error) {
    // The query's error is the one to report; a client that cannot roll back is discarded anyway.
    await client.query('rollback').catch(() => {});
    throw error;
  }
  await client.query('rollback');
  return {
    columns: result.fields.map((f) => ({ name: f.name, numeric: NUMERIC_TYPES.has(f.dataTypeID) })),
    rows: result.rows,
  };
}
