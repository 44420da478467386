/**
 * An incremental sync's high-water mark: kept in Updraft's database as JSON (timestamps
 * as ISO strings, small numbers as numbers, bigint and numeric as strings) and bound into
 * the source's SELECT through transaction-local settings, since COPY takes no parameters.
 */
import type pg from 'pg';
import { quoteIdent } from '../../db/quote.js';
import { pgMessage } from '../../db/errors.js';
import { OperatorError } from '../types.js';
import type { Column } from './columns.js';

export type Mark = string | number | null;

// int2, int4, float4, float8 round-trip exactly through a JSON number; int8 and numeric may not.
const NUMBER_TYPES = new Set([21, 23, 700, 701]);
// date, timestamp, timestamptz: the types a lookback (a duration) can be subtracted from.
const TIME_TYPES = new Set([1082, 1114, 1184]);

/** A lookback is a duration: it applies to date and timestamp columns only. */
export function checkLookback(column: Column, lookbackMs: number | undefined): void {
  if (lookbackMs === undefined || TIME_TYPES.has(column.oid)) return;
  throw new OperatorError(
    'sync',
    'incremental.lookback',
    `a duration can only be subtracted from a date or timestamp column; '${column.name}' is ${column.type}`,
  );
}

/**
 * The condition that reads the rows above the mark, less the lookback. The cast is the
 * column's type as the source's catalog names it.
 */
export function aboveMark(column: Column, lookback: boolean): string {
  const mark = `current_setting('updraft.watermark')::${column.type}`;
  return `${quoteIdent([column.name])} > ${lookback ? `${mark} - current_setting('updraft.lookback')::interval` : mark}`;
}

/** Binds the mark and the lookback for the source's transaction, and checks that the mark is a value of the column's type. */
export async function bindMark(
  client: pg.PoolClient,
  column: Column,
  mark: Mark,
  lookbackMs: number | undefined,
): Promise<void> {
  const text = typeof mark === 'number' ? String(mark) : mark;
  if (typeof text !== 'string')
    throw new OperatorError(
      'sync',
      'incremental.column',
      `the stored watermark ${JSON.stringify(mark)} is not a value of '${column.name}'`,
    );
  await client.query("select set_config('updraft.watermark', $1, true), set_config('updraft.lookback', $2, true)", [
    text,
    `${lookbackMs ?? 0} milliseconds`,
  ]);
  try {
    await client.query(`select current_setting('updraft.watermark')::${column.type}`);
  } catch (error) {
    throw new OperatorError(
      'sync',
      'incremental.column',
      `the stored watermark ${JSON.stringify(mark)} is not a ${column.type} (${pgMessage(error)}); did incremental.column change?`,
      false,
      { cause: error },
    );
  }
}

/**
 * The mark after this sync: the highest value of the column among the rows `filter`
 * selects, never below the previous mark. Read in the copy's snapshot, so it describes
 * exactly the rows copied. Null when there is no previous mark and no row.
 */
export async function nextMark(
  client: pg.PoolClient,
  relation: string,
  column: Column,
  filter: string | undefined,
): Promise<Mark> {
  const name = quoteIdent([column.name]);
  const highest = filter
    ? `greatest(max(${name}), current_setting('updraft.watermark')::${column.type})`
    : `max(${name})`;
  // to_json gives ISO 8601 for timestamps and exact digits for numbers.
  const { rows } = await client.query<{ mark: string | null }>(
    `select to_json(${highest}) #>> '{}' as mark from ${relation}${filter ? ` where ${filter}` : ''}`,
  );
  const text = rows[0]?.mark ?? null;
  if (text === null || !NUMBER_TYPES.has(column.oid)) return text;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}
