/** Statements writing a cleanse's outcome: the clean rows to their table, the rejected ones to the quarantine. */
import { quoteColumns, quoteIdent } from '../../db/quote.js';
import { createSchemaOf } from '../pg.js';
import { WORK, type Column } from './work.js';

/** Whose rows a quarantine row is: one task of one DAG run. */
export interface Owner {
  dagId: string;
  runId: string;
  taskId: string;
}

/**
 * In place: `table`'s rows replaced by the clean ones, in the caller's transaction.
 * Columns a cast converted take the new type (altered while the table is empty);
 * generated columns are computed again rather than written.
 */
export function replaceInPlace(table: string, columns: Column[], types: Map<string, string>): string[] {
  const target = quoteIdent(table);
  const altered = columns
    .filter((c) => types.get(c.name) !== c.type)
    .map(
      (c) =>
        `alter column ${quoteIdent([c.name])} type ${types.get(c.name)} using ${quoteIdent([c.name])}::text::${types.get(c.name)}`,
    );
  return [
    `truncate ${target}`,
    ...(altered.length > 0 ? [`alter table ${target} ${altered.join(', ')}`] : []),
    insertClean(
      target,
      columns.filter((c) => !c.generated).map((c) => c.name),
    ),
  ];
}

/** Into another table: created from the working table's columns and types when missing, else emptied and filled. */
export function replaceInto(into: string, exists: boolean, names: string[]): string[] {
  const target = quoteIdent(into);
  if (!exists)
    return [
      ...createSchemaOf(into),
      `create table ${target} as select ${quoteColumns(names)} from ${WORK} where __rule is null order by __row`,
    ];
  return [`truncate ${target}`, insertClean(target, names)];
}

function insertClean(target: string, names: string[]): string {
  const list = quoteColumns(names);
  // Identity columns keep the values read (GENERATED ALWAYS would refuse them otherwise).
  return `insert into ${target} (${list}) overriding system value select ${list} from ${WORK} where __rule is null order by __row`;
}

/** The default quarantine of 'staging.orders': 'staging.orders_quarantine'. */
export function defaultQuarantine(table: string): string {
  return `${table}_quarantine`;
}

/** The quarantine table and its index on the owner, for a quarantine that does not exist yet. */
export function createQuarantine(quarantine: string): string[] {
  const name = quarantine.split('.').at(-1)!;
  return [
    ...createSchemaOf(quarantine),
    `create table ${quoteIdent(quarantine)} (
      id bigserial primary key,
      dag_id text not null,
      run_id text not null,
      task_id text not null,
      rule text not null,
      column_name text,
      reason text not null,
      "row" jsonb not null,
      quarantined_at timestamptz not null default now()
    )`,
    `create index ${quoteIdent([`${name}_owner_idx`])} on ${quoteIdent(quarantine)} (dag_id, run_id, task_id)`,
  ];
}

/**
 * The rejected rows into the quarantine, each with its rule's label ('3:regex'), column,
 * reason and the row as read. A re-run of the same task and run must not add them twice:
 *
 * - cleansing into another table, the source still holds every rejected row, so this
 *   run's earlier quarantine rows are replaced;
 * - cleansing in place, a run that committed already removed its rejected rows from the
 *   table, which the quarantine alone still holds: a retry must not delete them. It adds
 *   only the rows not already quarantined by this run with the same rule.
 */
export function quarantineRejected(
  quarantine: string,
  owner: Owner,
  labels: string[],
  inPlace: boolean,
): { text: string; values: unknown[] }[] {
  const target = quoteIdent(quarantine);
  const values = [owner.dagId, owner.runId, owner.taskId, labels];
  const same = 'q.dag_id = $1 and q.run_id = $2 and q.task_id = $3';
  const insert = `insert into ${target} (dag_id, run_id, task_id, rule, column_name, reason, "row")
    select $1, $2, $3, ($4::text[])[w.__rule + 1], w.__column, w.__reason, w.__original
    from ${WORK} w
    where w.__rule is not null`;
  if (inPlace) {
    const fresh = `and not exists (select from ${target} q where ${same} and q.rule = ($4::text[])[w.__rule + 1] and q."row" = w.__original)`;
    return [{ text: `${insert} ${fresh} order by w.__row`, values }];
  }
  return [
    { text: `delete from ${target} q where ${same}`, values: values.slice(0, 3) },
    { text: `${insert} order by w.__row`, values },
  ];
}
