/**
 * Hand-written SQL (the hot path) through either driver. With `Db` typed for both drivers,
 * `db.execute()` returns `unknown`; both results carry `rows`, and the count of affected
 * rows as `rowCount` (node-postgres) or `affectedRows` (PGlite). This reads them in one place.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from './client.js';

/** A transaction handle, as passed to `db.transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Anything that runs SQL: the database or a transaction. */
export type Executor = Pick<Db, 'execute'>;

export interface ExecuteResult<T> {
  rows: T[];
  /** Rows inserted, updated, deleted or returned by the statement. */
  rowCount: number;
}

/** Run one parameterised statement (build it with drizzle's sql`...`; values become parameters). */
export async function execute<T extends Record<string, unknown> = Record<string, unknown>>(
  db: Executor,
  query: SQL,
): Promise<ExecuteResult<T>> {
  const result = (await db.execute(query)) as { rows?: T[]; rowCount?: number | null; affectedRows?: number };
  const rows = result.rows ?? [];
  return { rows, rowCount: result.rowCount ?? result.affectedRows ?? rows.length };
}

/**
 * A timestamptz from a hand-written query: drizzle's node-postgres driver returns it as
 * PostgreSQL's text ('2026-11-25 01:00:00.123+00'), PGlite as a Date.
 */
export function toDate(value: Date | string): Date;
export function toDate(value: Date | string | null): Date | null;
export function toDate(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(?::?(\d\d))?$/.exec(value);
  return new Date(m ? `${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}` : value);
}

/** A value as one jsonb parameter: how batches reach the hot statements (jsonb_to_recordset). */
export function jsonb(value: unknown): SQL {
  return sql`${JSON.stringify(value)}::jsonb`;
}
