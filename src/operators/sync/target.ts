/**
 * The target table of a sync, checked (or created) inside the target's transaction, so
 * that a table created for a load that then fails is rolled back with it.
 */
import type pg from 'pg';
import { quoteIdent } from '../../db/quote.js';
import { createSchemaOf } from '../pg.js';
import type { TaskLogger } from '../../dag/types.js';
import { OperatorError } from '../types.js';
import { describeTarget, type Column, type Source, type Target } from './columns.js';
import type { SyncConfig } from '../../dag/operators/sync.js';

/** The target's columns; creates the table when it is missing and `to.create` is set. */
export async function prepareTarget(
  client: pg.PoolClient,
  config: SyncConfig,
  from: Source,
  columns: Column[],
  log: TaskLogger,
): Promise<{ to: Target; created: boolean }> {
  const { table, conn } = config.to;
  const existing = await describeTarget(client, config.to);
  if (!existing) {
    if (!config.to.create)
      throw new OperatorError(
        'sync',
        'to.table',
        `table '${table}' on '${conn}' does not exist (set to.create: true to create it from the source columns)`,
      );
    await createTable(client, table, columns, config.key);
    log.info(
      `created table '${table}' on '${conn}': ${columns.map((c) => `${c.name} ${c.type}`).join(', ')}${config.key ? `, primary key (${config.key.join(', ')})` : ''}`,
    );
    return { to: { oid: 0, columns: new Map(columns.map((c) => [c.name, c])) }, created: true };
  }
  // Reading and truncating the same table from two connections would wait on each other forever.
  if (config.from.conn === conn && existing.oid === from.oid)
    throw new OperatorError('sync', 'to.table', `'${table}' is the source table`);
  const converted: string[] = [];
  for (const column of columns) {
    const there = existing.columns.get(column.name);
    if (!there)
      throw new OperatorError(
        'sync',
        'to.table',
        `table '${table}' on '${conn}' has no column '${column.name}' (${from.label} has it; add it to the table or list the columns to copy in columns)`,
      );
    if (there.type !== column.type) converted.push(`${column.name} ${column.type} -> ${there.type}`);
  }
  if (config.key && config.incremental && !(await hasUniqueIndex(client, existing.oid, config.key))) {
    throw new OperatorError(
      'sync',
      'key',
      `table '${table}' has no primary key or unique index on exactly (${config.key.join(', ')})`,
    );
  }
  if (converted.length > 0)
    log.warn(`column types differ, values are converted through their text form: ${converted.join(', ')}`);
  return { to: existing, created: false };
}

/** CREATE TABLE with the source's column types and a primary key on `key`; its schema too when missing. */
async function createTable(
  client: pg.PoolClient,
  table: string,
  columns: Column[],
  key: string[] | undefined,
): Promise<void> {
  for (const statement of createSchemaOf(table)) await client.query(statement);
  const definitions = columns.map((c) => `${quoteIdent([c.name])} ${c.type}`);
  if (key) definitions.push(`primary key (${key.map((k) => quoteIdent([k])).join(', ')})`);
  await client.query(`create table ${quoteIdent(table)} (${definitions.join(', ')})`);
}

/** Whether `oid` has a valid, non-partial unique index on exactly the `key` columns: what INSERT ... ON CONFLICT (key) needs. */
async function hasUniqueIndex(client: pg.PoolClient, oid: number, key: string[]): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>(
    `select exists (
       select from pg_index i
        where i.indrelid = $1 and i.indisunique and i.indisvalid and i.indpred is null and i.indexprs is null and i.indnkeyatts = cardinality($2::text[])
          and (select array_agg(a.attname::text order by a.attname::text collate "C") from pg_attribute a
                where a.attrelid = i.indrelid and a.attnum = any ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
              = (select array_agg(k order by k collate "C") from unnest($2::text[]) k)
     ) as found`,
    [oid, key],
  );
  return rows[0]!.found;
}
