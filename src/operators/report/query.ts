/**
 * The report's query, fetched at most `limit` rows: the server hands the rows over in
 * one batch of `limit` (the extended protocol's row limit on Execute) and the portal
 * is closed after it, so a query that would return a billion rows costs one batch and
 * not the thread's memory. Unlike `select * from (<query>) q limit n`, this works for
 * every statement that returns rows (VALUES, EXPLAIN, DML with RETURNING) and leaves
 * the user's $1.. parameters alone.
 */
import pg from 'pg';
import type { Statement } from '../statement.js';
import type { ReportTable } from './values.js';

export interface FetchedRows extends ReportTable {
  /** Whether the statement returns rows at all (a CREATE TABLE does not). */
  returnsRows: boolean;
  /** The command tag, e.g. 'SELECT'; null when the fetch stopped at the limit. */
  command: string | null;
}

/** int2, int4, int8, oid, float4, float8, numeric: right-aligned, and charted even when they arrive as text. */
const NUMERIC_TYPES = new Set([20, 21, 23, 26, 700, 701, 1700]);
const DATE = 1082;
const TIMESTAMP = 1114;
const INTERVAL = 1186;

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

/** A pg Query that ends at the first PortalSuspended instead of asking for the next batch. */
class FirstBatchQuery extends pg.Query {
  handlePortalSuspended(connection: { sync(): void }): void {
    // Sync ends the implicit transaction, which closes the portal; ReadyForQuery then ends the query.
    connection.sync();
  }
}

/** Runs `statement` on `client` and returns its columns and at most `limit` rows (as arrays). Driver errors pass through. */
export function fetchAtMost(client: pg.ClientBase, statement: Statement, limit: number): Promise<FetchedRows> {
  const query = new FirstBatchQuery({ text: statement.text, values: statement.values as unknown[] | undefined, types, rowMode: 'array', rows: limit } as pg.QueryArrayConfig);
  return new Promise((resolve, reject) => {
    query.on('error', reject);
    query.on('end', (result) => {
      const fields = (result as unknown as pg.QueryArrayResult).fields ?? [];
      resolve({
        returnsRows: fields.length > 0,
        command: result.command ?? null,
        columns: fields.map((f) => ({ name: f.name, numeric: NUMERIC_TYPES.has(f.dataTypeID) })),
        rows: (result as unknown as pg.QueryArrayResult).rows,
      });
    });
    client.query(query);
  });
}
