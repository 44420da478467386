/**
 * The sync operator: a table or query on one connection into a table on another (or the
 * same), full or incremental, rows moved by COPY streams. The source is read in one
 * REPEATABLE READ snapshot; the target is written in one transaction, so a failure or an
 * abort leaves it as it was. An incremental sync's new mark is handed to ctx.state only
 * after that transaction committed.
 */
import type pg from 'pg';
import { durationMs } from '../../util/duration.js';
import { quoteIdent } from '../../db/quote.js';
import { commitUnlessAborted, withClient } from '../pg.js';
import { OperatorError, type Operator, type OperatorContext } from '../types.js';
import { describeSource, pickColumns } from './columns.js';
import { syncSchema, type SyncConfig, type SyncResult } from '../../dag/operators/sync.js';
import type { Progress } from './copy.js';
import { step } from './errors.js';
import { loadFull } from './full.js';
import { loadIncremental } from './incremental.js';
import type { Counts, Plan } from './plan.js';
import { prepareTarget } from './target.js';
import { checkLookback, type Mark } from './watermark.js';

export const syncOperator: Operator<SyncConfig> = {
  name: 'sync',
  schema: syncSchema,
  run: runSync,
};

async function runSync(config: SyncConfig, ctx: OperatorContext): Promise<SyncResult> {
  const started = performance.now();
  const { signal, log } = ctx.task;
  const mode = config.incremental ? 'incremental' : 'full';
  const sourcePool = await ctx.connection(config.from.conn, 'from.conn');
  const targetPool = await ctx.connection(config.to.conn, 'to.conn');
  const previous = config.incremental ? (((await ctx.state.get('watermark')) as Mark) ?? null) : null;
  const lookback = config.incremental?.lookback;
  const lookbackMs = lookback === undefined ? undefined : durationMs(lookback);

  const outcome = await withClient(
    sourcePool,
    signal,
    { operator: 'sync', field: 'from.conn', conn: config.from.conn },
    (source) =>
      withClient(targetPool, signal, { operator: 'sync', field: 'to.conn', conn: config.to.conn }, (target) =>
        transfer(config, ctx, source, target, previous, lookbackMs),
      ),
  );

  // The target has committed: only now may the mark advance (the executor keeps it with the try's success).
  if (config.incremental && outcome.mark !== previous) ctx.state.set('watermark', outcome.mark);
  const seconds = (performance.now() - started) / 1000;
  log.info(
    `${mode} sync done: ${outcome.rowsRead} rows read, ${outcome.rowsWritten} written, ${outcome.rowsDeleted} deleted in ${seconds.toFixed(2)} s` +
      (config.incremental ? `; watermark ${JSON.stringify(outcome.mark)}` : ''),
  );
  return {
    mode,
    rowsRead: outcome.rowsRead,
    rowsWritten: outcome.rowsWritten,
    rowsDeleted: outcome.rowsDeleted,
    ...(config.incremental ? { watermark: outcome.mark } : {}),
    created: outcome.created,
    seconds,
  };
}

async function transfer(
  config: SyncConfig,
  ctx: OperatorContext,
  source: pg.PoolClient,
  target: pg.PoolClient,
  previous: Mark,
  lookbackMs: number | undefined,
): Promise<Counts & { mark: Mark; created: boolean }> {
  const { log } = ctx.task;
  const fromField = config.from.table !== undefined ? 'from.table' : 'from.query';
  // One sync into a table at a time: a second run of the task waits here, before taking
  // its snapshot, and then reads what the first committed (two interleaved upserts from
  // different snapshots could leave older values in the target).
  await step('to.table', async () => {
    await target.query('begin');
    await target.query('select pg_advisory_xact_lock(hashtext($1))', [`updraft.sync:${config.to.table}`]);
  });
  const from = await step(fromField, async () => {
    await source.query('begin isolation level repeatable read read only');
    if (config.from.table !== undefined) await lockSource(source, config.from.table, config.from.conn);
    return describeSource(source, config.from);
  });
  const columns = pickColumns(from, config);
  if (config.incremental) checkLookback(from.columns.find((c) => c.name === config.incremental!.column)!, lookbackMs);
  const { to, created } = await step('to.table', () => prepareTarget(target, config, from, columns, log));
  log.info(
    `${config.incremental ? 'incremental' : 'full'} sync of ${from.label} into '${config.to.table}' on '${config.to.conn}': ${columns.map((c) => c.name).join(', ')}`,
  );

  const plan: Plan = {
    config,
    source,
    target,
    from,
    columns,
    to,
    created,
    signal: ctx.task.signal,
    log: (message) => log.info(message),
    progress: (what) => (p: Progress) =>
      log.info(
        `${what}: ${p.rows.toLocaleString('en')} read (${(p.bytes / 2 ** 20).toFixed(0)} MiB, ${Math.round(p.rows / p.seconds).toLocaleString('en')}/s)`,
      ),
  };
  const loaded = config.incremental
    ? await loadIncremental(plan, previous, lookbackMs)
    : { ...(await loadFull(plan)), mark: null };
  // The snapshot is no longer needed; ending it first means a failure here still leaves the target uncommitted.
  await step(fromField, () => source.query('commit'));
  await step('to.table', () => commitUnlessAborted(target, ctx.task.signal));
  return { ...loaded, created };
}

/**
 * Locks a table source before the snapshot is taken (the first query takes it): a full
 * load of that table (TRUNCATE) committing meanwhile would otherwise look empty in it.
 */
async function lockSource(source: pg.PoolClient, table: string, conn: string): Promise<void> {
  try {
    await source.query(`lock table ${quoteIdent(table)} in access share mode`);
  } catch (error) {
    // 42P01 undefined table, 3F000 undefined schema.
    const code = (error as { code?: string }).code;
    if (code === '42P01' || code === '3F000')
      throw new OperatorError('sync', 'from.table', `table '${table}' on '${conn}' does not exist`);
    throw error;
  }
}
