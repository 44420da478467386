/**
 * The working table a cleanse runs on: a temp copy of the table with bookkeeping columns,
 * dropped at commit. Rules update it (compile.ts); the clean rows and the rejected ones
 * are written from it at the end (write.ts).
 *
 *   __row       the row's position as read (ties in dedupe go to the last)
 *   __original  the row as read, for the quarantine
 *   __changed   a transformation changed one of its values
 *   __rule      the index of the rule that rejected it (null: not rejected)
 *   __column    the column that rule found wrong, __reason why
 */
import type pg from 'pg';
import { quoteIdent } from '../../db/quote.js';

export const WORK = 'pg_temp.updraft_cleanse';

/** Names the working table adds to the table's own columns. */
export const BOOKKEEPING = ['__row', '__original', '__changed', '__rule', '__column', '__reason'] as const;

/** A column of a table as the catalog describes it. */
export interface Column {
  name: string;
  /** format_type(): 'integer', 'character varying(20)', 'timestamp with time zone'. */
  type: string;
  /** pg_type.typcategory: 'S' for string types (text, varchar, char). */
  category: string;
  /** A stored generated column: read, never written back. */
  generated: boolean;
}

/** Copies `table` into the working table; its row count is the rows read. */
export function createWork(table: string): string {
  // to_jsonb(t.*), not to_jsonb(t): a column named t would win over the whole row.
  return `create temp table ${WORK} on commit drop as
    select row_number() over () as __row, to_jsonb(t.*) as __original, false as __changed,
      null::integer as __rule, null::text as __column, null::text as __reason, t.*
    from ${quoteIdent(table)} t`;
}

/**
 * `pg_temp.updraft_can_cast(value, null::integer)`: whether `value` converts to the type of
 * its second argument. PostgreSQL 15 has no pg_input_is_valid (16 has); assigning text to a
 * variable of the type runs the type's input function, and the exception block catches a
 * failure (not a cancel: OTHERS excludes query_canceled, so an abort still stops it).
 */
export const CREATE_CAST_CHECK = `create or replace function pg_temp.updraft_can_cast(value text, target anyelement) returns boolean language plpgsql as $$
  declare
    converted target%type;
  begin
    converted := value;
    return true;
  exception when others then
    return false;
  end
$$`;

/** Temp functions outlive the transaction (the session is pooled): dropped before commit. */
export const DROP_CAST_CHECK = 'drop function pg_temp.updraft_can_cast(text, anyelement)';

export interface TableInfo {
  /** pg_class oid, to tell whether two names are the same table. */
  oid: string;
  columns: Column[];
}

/** `table`'s columns from the catalog, following the search_path as a query would; undefined when it does not exist. */
export async function readTable(client: pg.ClientBase, table: string): Promise<TableInfo | undefined> {
  const { rows } = await client.query<Column & { oid: string }>(
    `select c.oid::text as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
        t.typcategory as category, a.attgenerated <> '' as generated
      from pg_class c
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      join pg_type t on t.oid = a.atttypid
      where c.oid = to_regclass($1)
      order by a.attnum`,
    [quoteIdent(table)],
  );
  if (rows.length === 0) return undefined;
  return {
    oid: rows[0]!.oid,
    columns: rows.map(({ name, type, category, generated }) => ({ name, type, category, generated })),
  };
}
