/**
 * Catalog lookups of a sync: the source's columns (a table's from pg_attribute, a query's
 * from its result description) and the target table's, by parameterised queries. Type
 * names come from format_type() on the server, never from user text, so they can be
 * spliced into casts and CREATE TABLE.
 */
import type pg from 'pg';
import { quoteIdent } from '../../db/quote.js';
import { OperatorError } from '../types.js';
import type { SyncConfig } from '../../dag/operators/sync.js';

export interface Column {
  name: string;
  /** format_type(type, typmod): 'integer', 'character varying(20)', 'timestamp with time zone'. */
  type: string;
  /** The type's oid (of the server that described it). */
  oid: number;
}

export interface Source {
  /** Config field that names the source, for errors: 'from.table' or 'from.query'. */
  field: 'from.table' | 'from.query';
  /** For messages: "table 'orders' on 'src'" or "the query on 'src'". */
  label: string;
  /** What follows FROM in a SELECT: a quoted table name or the parenthesised query. */
  relation: string;
  /** Set for a plain table (relkind 'r'), which `COPY table (cols) TO` reads without a SELECT. */
  plainTable?: string;
  oid?: number;
  columns: Column[];
}

export interface Target {
  oid: number;
  columns: Map<string, Column>;
}

const COLUMNS_OF = `select attname as name, format_type(atttypid, atttypmod) as type, atttypid::int4 as oid
  from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped order by attnum`;

/** The relation `table` names (search_path applies to an unqualified name), or undefined when there is none. */
async function relation(client: pg.PoolClient, table: string): Promise<{ oid: number; kind: string } | undefined> {
  // The quoted name travels as a value; to_regclass parses it on the server.
  const { rows } = await client.query<{ oid: number; kind: string }>(
    'select oid::int8 as oid, relkind as kind from pg_class where oid = to_regclass($1)',
    [quoteIdent(table)],
  );
  return rows[0] ? { oid: Number(rows[0].oid), kind: rows[0].kind } : undefined;
}

export async function describeSource(client: pg.PoolClient, from: SyncConfig['from']): Promise<Source> {
  if (from.table !== undefined) {
    const label = `table '${from.table}' on '${from.conn}'`;
    const found = await relation(client, from.table);
    if (!found) throw new OperatorError('sync', 'from.table', `${label} does not exist`);
    const { rows } = await client.query<Column>(COLUMNS_OF, [found.oid]);
    const quoted = quoteIdent(from.table);
    return {
      field: 'from.table',
      label,
      relation: quoted,
      plainTable: found.kind === 'r' ? quoted : undefined,
      oid: found.oid,
      columns: rows,
    };
  }
  // A trailing ';' would end the subquery early; a trailing '-- comment' is closed by the newline.
  const subquery = `(\n${from.query.replace(/;\s*$/, '')}\n) as updraft_source`;
  const probe = await client.query(`select * from ${subquery} limit 0`);
  const { rows } = await client.query<{ type: string }>(
    'select format_type(o, m) as type from unnest($1::oid[], $2::int4[]) with ordinality as u(o, m, i) order by i',
    [probe.fields.map((f) => f.dataTypeID), probe.fields.map((f) => f.dataTypeModifier)],
  );
  const columns = probe.fields.map((f, i) => ({ name: f.name, type: rows[i]!.type, oid: f.dataTypeID }));
  const seen = new Set<string>();
  for (const { name } of columns) {
    if (seen.has(name))
      throw new OperatorError(
        'sync',
        'from.query',
        `the query returns two columns named '${name}': give them distinct aliases`,
      );
    seen.add(name);
  }
  return { field: 'from.query', label: `the query on '${from.conn}'`, relation: subquery, columns };
}

/**
 * The columns to copy, in the source's order unless `columns` lists them. Every column
 * the config names must be one of the source's; the error names the field that named it.
 */
export function pickColumns(source: Source, config: SyncConfig): Column[] {
  const byName = new Map(source.columns.map((c) => [c.name, c]));
  const need = (name: string, field: string) => {
    const column = byName.get(name);
    if (!column)
      throw new OperatorError(
        'sync',
        field,
        `${source.label} has no column '${name}' (it has: ${[...byName.keys()].join(', ')})`,
      );
    return column;
  };
  const picked = config.columns ? config.columns.map((name) => need(name, 'columns')) : source.columns;
  for (const name of config.key ?? []) need(name, 'key');
  if (config.incremental) need(config.incremental.column, 'incremental.column');
  return picked;
}

/** The target table, or undefined when it does not exist. Views and other relations that cannot be loaded fail here. */
export async function describeTarget(client: pg.PoolClient, to: SyncConfig['to']): Promise<Target | undefined> {
  const found = await relation(client, to.table);
  if (!found) return undefined;
  // Tables, partitioned tables and foreign tables accept COPY FROM and TRUNCATE.
  if (!['r', 'p', 'f'].includes(found.kind))
    throw new OperatorError(
      'sync',
      'to.table',
      `'${to.table}' on '${to.conn}' is not a table (relkind '${found.kind}')`,
    );
  const { rows } = await client.query<Column>(COLUMNS_OF, [found.oid]);
  return { oid: found.oid, columns: new Map(rows.map((c) => [c.name, c])) };
}
