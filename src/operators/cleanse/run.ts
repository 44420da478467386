/**
 * The cleanse operator: declarative rules run as set-based SQL inside the database, in
 * one transaction. The table is copied into a temp working table, each rule is one or a
 * few statements over it (compile.ts), then the rejected rows go to the quarantine and
 * the clean ones replace `into` (or the table itself). Any error, or an abort, ends the
 * transaction with the client: nothing half-written stays behind.
 */
import type pg from 'pg';
import { quoteIdent } from '../../db/quote.js';
import { fieldError, withClient } from '../pg.js';
import { OperatorError, type Operator, type OperatorContext } from '../types.js';
import { compileRules, type CompiledRule, type CompiledStatement } from './compile.js';
import { cleanseSchema, type CleanseConfig, type CleanseResult } from '../../dag/operators/cleanse.js';
import { BOOKKEEPING, CREATE_CAST_CHECK, DROP_CAST_CHECK, WORK, createWork, readTable } from './work.js';
import { createQuarantine, defaultQuarantine, quarantineRejected, replaceInPlace, replaceInto } from './write.js';

export const cleanseOperator: Operator<CleanseConfig> = {
  name: 'cleanse',
  schema: cleanseSchema,
  run: runCleanse,
};

type Counts = Partial<Record<NonNullable<CompiledStatement['counts']>, number>>;

async function runCleanse(config: CleanseConfig, ctx: OperatorContext): Promise<CleanseResult> {
  const { signal, log } = ctx.task;
  const pool = await ctx.connection(config.conn, 'conn');
  return withClient(pool, signal, { operator: 'cleanse', field: 'conn', conn: config.conn }, async (client) => {
    const exec = async (field: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> => {
      // An abort between statements stops here; one during a statement cancels it on the server (withClient).
      signal.throwIfAborted();
      try {
        return await client.query({ text, values });
      } catch (error) {
        throw fieldError('cleanse', field, error);
      }
    };
    const read = async (field: string, table: string) => {
      signal.throwIfAborted();
      try {
        return await readTable(client, table);
      } catch (error) {
        throw fieldError('cleanse', field, error);
      }
    };

    await exec('conn', 'begin');
    const source = await read('table', config.table);
    if (!source) throw new OperatorError('cleanse', 'table', `table ${config.table} does not exist`);
    const taken = source.columns.find((c) => (BOOKKEEPING as readonly string[]).includes(c.name));
    if (taken)
      throw new OperatorError(
        'cleanse',
        'table',
        `table ${config.table} has a column named '${taken.name}', a name cleanse keeps for its own bookkeeping`,
      );
    // Every rule is checked against the catalog before anything is written.
    const plan = compileRules(config.rules, config.table, source.columns);
    const into = config.into === undefined ? undefined : await read('into', config.into);
    const inPlace = config.into === undefined || into?.oid === source.oid;

    // In place, writers wait until commit: a row written between the read and the truncate would be lost.
    if (inPlace) await exec('table', `lock table ${quoteIdent(config.table)} in exclusive mode`);
    const rowsIn = (await exec('table', createWork(config.table))).rowCount ?? 0;
    if (plan.castCheck) await exec('rules', CREATE_CAST_CHECK);

    const rejectedByRule: Record<string, number> = {};
    let deduplicated = 0;
    for (const rule of plan.rules) {
      const counts: Counts = {};
      for (const statement of rule.statements) {
        const { rowCount } = await exec(rule.field, statement.text, statement.values);
        if (statement.counts) counts[statement.counts] = (counts[statement.counts] ?? 0) + (rowCount ?? 0);
      }
      if (counts.rejected) rejectedByRule[rule.label] = counts.rejected;
      deduplicated += counts.deduplicated ?? 0;
      log.info(`${rule.field} ${rule.describe}: ${describeCounts(rule, counts)}`);
    }
    const rejected = Object.values(rejectedByRule).reduce((a, b) => a + b, 0);
    // Counted at the end: a row changed, then rejected or dropped as a duplicate, is not among the rows out.
    const changed = (await exec('rules', `select count(*)::int as n from ${WORK} where __rule is null and __changed`))
      .rows[0].n as number;

    const quarantine = config.quarantine ?? defaultQuarantine(config.table);
    const quarantineExists = await read('quarantine', quarantine);
    if (!quarantineExists) for (const text of createQuarantine(quarantine)) await exec('quarantine', text);
    const owner = { dagId: ctx.task.dagId, runId: ctx.task.runId, taskId: ctx.task.taskId };
    for (const { text, values } of quarantineRejected(
      quarantine,
      owner,
      plan.rules.map((r) => r.label),
      inPlace,
    ))
      await exec('quarantine', text, values);

    const output = inPlace
      ? replaceInPlace(config.table, source.columns, plan.types)
      : replaceInto(
          config.into!,
          into !== undefined,
          source.columns.map((c) => c.name),
        );
    let rowsOut = 0;
    // The last statement fills the table: its row count is the rows out.
    for (const text of output) rowsOut = (await exec(inPlace ? 'table' : 'into', text)).rowCount ?? 0;

    if (plan.castCheck) await exec('rules', DROP_CAST_CHECK);
    await exec('conn', 'commit');

    const target = inPlace ? config.table : config.into!;
    log.info(
      `${config.table} -> ${target}: ${rowsIn} rows in, ${changed} changed, ${rejected} rejected to ${quarantine}, ${deduplicated} duplicates dropped, ${rowsOut} rows out`,
    );
    return { rowsIn, changed, rejected, deduplicated, rowsOut, rejectedByRule };
  });
}

function describeCounts(rule: CompiledRule, counts: Counts): string {
  if (rule.statements.length === 0) return 'nothing to do, the column has the type already';
  return Object.entries(counts)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ');
}
