/**
 * Clearing task instances (`updraft clear`, the UI's "clear"), as Airflow's
 * `tasks clear`: the selected task instances go back to state none, the scheduler
 * decides them again by their trigger rules and runs them with fresh tries.
 */
import { and, asc, desc, eq, gte, inArray, lte, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb, type Tx } from '../db/execute.js';
import { auditLog, dagRuns, taskInstances, type DagRunRow } from '../db/schema.js';
import { NotFoundError, UpdraftError } from '../errors.js';
import { withDownstream, withUpstream } from '../dag/graph.js';
import { DagCache, type DagStructure } from './dag-cache.js';
import { evaluateRun } from './evaluate-run.js';
import { finishRunIfDone } from './finish-run.js';
import type { TaskState } from './vocabulary.js';
import { dagRowId } from './mark.js';
import { FAILED_TASK_STATES } from './vocabulary.js';
import { notify } from '../db/notify.js';

export interface ClearOptions {
  /** Who asks, for the audit log: 'cli:alice'. */
  actor: string;
  /** One run, by its run id as `runs list` shows it, or 'latest' (the newest logical date). */
  runId?: string;
  /** Only runs whose logical date is at or after this. */
  from?: Date;
  /** Only runs whose logical date is at or before this. */
  to?: Date;
  /** These tasks (exact ids); with `taskRegex`, tasks matching either. Default: every task. */
  taskIds?: readonly string[];
  /** Tasks whose id this regular expression finds a match in (unanchored, as Airflow's `-t`). */
  taskRegex?: string;
  /** Also every task downstream of the matched ones, transitively. Default false. */
  downstream?: boolean;
  /** Also every task upstream of the matched ones, transitively. Default false. */
  upstream?: boolean;
  /** Of the selected task instances, only those failed or upstream_failed. Default false. */
  onlyFailed?: boolean;
  /** Tell what would be cleared and change nothing. Default false. */
  dryRun?: boolean;
}

export interface ClearedRun {
  runId: string;
  logicalDate: Date;
  /** The run's state before the clear; a finished run is queued again. */
  state: DagRunRow['state'];
  /** The task instances cleared, with their state before, in the DAG's dependency order. */
  tasks: {
    taskId: string /** A mapped task's instance. */;
    mapIndex?: number;
    state: TaskState | null;
    tryNumber: number;
  }[];
}

export interface ClearResult {
  dagId: string;
  dryRun: boolean;
  /** Runs with at least one task instance cleared, oldest logical date first. */
  runs: ClearedRun[];
  /** Task instances cleared. */
  count: number;
}

const FAILED: ReadonlySet<TaskState | null> = new Set<TaskState | null>(FAILED_TASK_STATES);

/**
 * Clears the selected task instances of a DAG's runs, in one transaction that locks the
 * runs (the scheduler and finishing tasks wait for it):
 * - each goes back to state none, keeps its try number and log, loses its XCom, and its
 *   max tries become try number + retries + 1, so it has its retries again;
 * - a finished run goes back to queued: the scheduler starts it again (within the
 *   DAG's maxActiveRuns, and not while the DAG is paused) and decides its cleared
 *   tasks then; in a running run they are decided at once;
 * - a queued or running task instance is never cleared: the clear is refused, naming
 *   them (wait for them, or cancel the run).
 * At least a run or a date bound is required, so that a slip never clears every run.
 */
export async function clearTaskInstances(db: Db, dagId: string, options: ClearOptions): Promise<ClearResult> {
  if (options.runId === undefined && options.from === undefined && options.to === undefined) {
    throw new UpdraftError(
      'clearing needs a run or a range of logical dates (--run, --from, --to): without them it would clear every run',
    );
  }
  if (options.from && options.to && options.from > options.to) {
    throw new UpdraftError(
      `the range of logical dates is empty: from ${options.from.toISOString()} is after to ${options.to.toISOString()}`,
    );
  }
  const cache = new DagCache(db);
  return db.transaction((tx) => clearWithin(tx, cache, dagId, options));
}

/** clearTaskInstances inside a transaction the caller holds (a backfill clears the runs it re-runs). */
export async function clearWithin(tx: Tx, cache: DagCache, dagId: string, options: ClearOptions): Promise<ClearResult> {
  const pattern = taskPattern(options.taskRegex);
  const dryRun = options.dryRun ?? false;
  const dag = await dagRowId(tx, dagId);
  const runs = await selectRuns(tx, dag, dagId, options, !dryRun);
  const structures = new Map<string, DagStructure>();
  for (const run of runs)
    if (!structures.has(run.versionId)) structures.set(run.versionId, await cache.get(run.versionId, tx));

  const unknown = (options.taskIds ?? []).filter((id) => ![...structures.values()].some((s) => s.tasks.has(id)));
  if (runs.length > 0 && unknown.length > 0)
    throw new NotFoundError(`DAG '${dagId}' has no task ${unknown.map((id) => `'${id}'`).join(', ')}`);
  const match = (id: string) =>
    (options.taskIds?.includes(id) ?? false) || (pattern?.test(id) ?? false) || (!options.taskIds && !pattern);
  const selected = new Map(
    [...structures].map(([versionId, s]) => [versionId, relatives(s, [...s.tasks.keys()].filter(match), options)]),
  );
  const wanted = [...new Set([...selected.values()].flatMap((ids) => [...ids]))];

  const instances =
    runs.length === 0 || wanted.length === 0
      ? []
      : await selectInstances(
          tx,
          runs.map((r) => r.id),
          wanted,
          !dryRun,
        );
  const runById = new Map(runs.map((r) => [r.id, r]));
  const picked = instances.filter((ti) => {
    const run = runById.get(ti.runId)!;
    return (
      selected.get(run.versionId)!.has(ti.taskId) &&
      ti.state !== 'removed' &&
      (!options.onlyFailed || FAILED.has(ti.state))
    );
  });
  // A mapped task is cleared whole (all its instances), as it expands again below.
  const mappedKeys = new Set(picked.filter((ti) => ti.mapIndex >= 0).map((ti) => `${ti.runId} ${ti.taskId}`));
  const chosen =
    mappedKeys.size === 0
      ? picked
      : instances.filter(
          (ti) => picked.includes(ti) || (ti.mapIndex >= 0 && mappedKeys.has(`${ti.runId} ${ti.taskId}`)),
        );

  const active = chosen.filter((ti) => ti.state === 'queued' || ti.state === 'running');
  if (active.length > 0) {
    const list = active.map((ti) => `${runById.get(ti.runId)!.runId} ${ti.taskId} (${ti.state})`);
    throw new UpdraftError(
      `cannot clear task instances that are queued or running: ${list.slice(0, 10).join(', ')}${list.length > 10 ? `, and ${list.length - 10} more` : ''}; wait for them to end, or cancel their run ('updraft runs cancel')`,
    );
  }

  const cleared: ClearedRun[] = runs
    .map((run) => {
      const order = [...structures.get(run.versionId)!.tasks.keys()];
      const tasks = chosen
        .filter((ti) => ti.runId === run.id)
        .sort((a, b) => order.indexOf(a.taskId) - order.indexOf(b.taskId) || a.mapIndex - b.mapIndex)
        .map((ti) => ({
          taskId: ti.taskId,
          ...(ti.mapIndex >= 0 ? { mapIndex: ti.mapIndex } : {}),
          state: ti.state,
          tryNumber: ti.tryNumber,
        }));
      return { runId: run.runId, logicalDate: run.logicalDate, state: run.state, tasks };
    })
    .filter((r) => r.tasks.length > 0)
    .sort((a, b) => a.logicalDate.getTime() - b.logicalDate.getTime());
  const result: ClearResult = { dagId, dryRun, runs: cleared, count: chosen.length };
  if (dryRun || chosen.length === 0) return result;

  await execute(
    tx,
    sql`update task_instances ti
           set state = null, max_tries = ti.try_number + v.retries + 1, queue = v.queue, error = null, next_try_at = null, sensor_started_at = null,
               owner = null, lease = null, heartbeat_at = null, scheduled_at = null, queued_at = null, started_at = null,
               ended_at = null, updated_at = now()
          from jsonb_to_recordset(${jsonb(
            chosen.map((ti) => {
              // The task's own queue: a run of `dags test` was on a private one that no worker serves later.
              const task = structures.get(runById.get(ti.runId)!.versionId)!.tasks.get(ti.taskId)!;
              return { id: ti.id, retries: task.retries, queue: task.queue };
            }),
          )}) as v(id uuid, retries int, queue text)
         where ti.id = v.id`,
  );
  // A cleared mapped task goes back to unexpanded (one placeholder, map index -1): it expands
  // again from its upstream's new result. Only for mapped tasks: no statement otherwise.
  const expanded = chosen.filter((ti) => ti.mapIndex >= 0);
  if (expanded.length > 0) {
    await execute(
      tx,
      sql`with gone as (
            delete from task_instances where id in (select value::uuid from jsonb_array_elements_text(${jsonb(expanded.filter((ti) => ti.mapIndex > 0).map((ti) => ti.id))}))
          )
          update task_instances set map_index = -1
           where id in (select value::uuid from jsonb_array_elements_text(${jsonb(expanded.filter((ti) => ti.mapIndex === 0).map((ti) => ti.id))}))`,
    );
  }
  // A cleared task that ends up skipped must not leave its old result for ctx.pull.
  await execute(
    tx,
    sql`delete from xcom where task_instance_id in (select value::uuid from jsonb_array_elements_text(${jsonb(chosen.map((ti) => ti.id))}))`,
  );

  let scheduled = 0;
  const touched = runs.filter((r) => chosen.some((ti) => ti.runId === r.id));
  const finished = touched.filter((r) => r.state === 'success' || r.state === 'failed');
  if (finished.length > 0) {
    await tx
      .update(dagRuns)
      .set({ state: 'queued', queuedAt: sql`now()`, endedAt: null })
      .where(
        inArray(
          dagRuns.id,
          finished.map((r) => r.id),
        ),
      );
  }
  for (const run of touched.filter((r) => r.state === 'running')) {
    const structure = structures.get(run.versionId)!;
    const changes = await evaluateRun(tx, run.id, structure);
    const ready = changes.filter((c) => c.state === 'scheduled').length;
    scheduled += ready;
    if (ready === 0) await finishRunIfDone(tx, run.id, structure);
  }

  const taskIds = [...new Set(chosen.map((ti) => ti.taskId))];
  await tx.insert(auditLog).values({
    actor: options.actor,
    action: 'task.clear',
    dagId,
    runId: cleared.length === 1 ? cleared[0]!.runId : null,
    taskId: taskIds.length === 1 ? taskIds[0]! : null,
    details: {
      count: chosen.length,
      runs: Object.fromEntries(cleared.map((r) => [r.runId, r.tasks.map((t) => t.taskId)])),
      selection: {
        runId: options.runId ?? null,
        from: options.from ?? null,
        to: options.to ?? null,
        taskIds: options.taskIds ?? null,
        taskRegex: options.taskRegex ?? null,
        downstream: options.downstream ?? false,
        upstream: options.upstream ?? false,
        onlyFailed: options.onlyFailed ?? false,
      },
    },
  });
  // One NOTIFY: executors for tasks ready now ('runs': schedulers too), else schedulers for the queued runs.
  if (scheduled > 0) await notify(tx, 'work', 'runs');
  else await notify(tx, 'runs');
  return result;
}

/** The task regex, checked; its error names the option. */
function taskPattern(source: string | undefined): RegExp | undefined {
  if (source === undefined) return undefined;
  try {
    return new RegExp(source);
  } catch (error) {
    throw new UpdraftError(`the task pattern is not a valid regular expression: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The matched tasks, with their downstream and upstream tasks (transitively) when asked. */
function relatives(
  structure: DagStructure,
  matched: string[],
  options: Pick<ClearOptions, 'downstream' | 'upstream'>,
): Set<string> {
  const result = new Set(matched);
  if (options.downstream) for (const id of withDownstream(structure.graph, matched)) result.add(id);
  if (options.upstream) for (const id of withUpstream(structure.graph, matched)) result.add(id);
  return result;
}

interface SelectedRun {
  id: string;
  runId: string;
  state: DagRunRow['state'];
  logicalDate: Date;
  versionId: string;
}

/** The runs to clear in, locked in id order (as completeTries locks them) unless `lock` is false. */
async function selectRuns(
  tx: Tx,
  dagRow: string,
  dagId: string,
  options: ClearOptions,
  lock: boolean,
): Promise<SelectedRun[]> {
  const latest = options.runId === 'latest';
  const base = tx
    .select({
      id: dagRuns.id,
      runId: dagRuns.runId,
      state: dagRuns.state,
      logicalDate: dagRuns.logicalDate,
      versionId: dagRuns.dagVersionId,
    })
    .from(dagRuns)
    .where(
      and(
        eq(dagRuns.dagId, dagRow),
        options.runId !== undefined && !latest ? eq(dagRuns.runId, options.runId) : undefined,
        options.from ? gte(dagRuns.logicalDate, options.from) : undefined,
        options.to ? lte(dagRuns.logicalDate, options.to) : undefined,
      ),
    )
    .$dynamic();
  const query = latest ? base.orderBy(desc(dagRuns.logicalDate)).limit(1) : base.orderBy(asc(dagRuns.id));
  const rows = lock ? await query.for('update') : await query;
  if (options.runId !== undefined && rows.length === 0) {
    const where = options.from || options.to ? ' in that range of logical dates' : '';
    throw new NotFoundError(
      latest && !where
        ? `DAG '${dagId}' has no runs yet`
        : `DAG '${dagId}' has no run '${options.runId}'${where} (see 'updraft runs list ${dagId}')`,
    );
  }
  // Runs always have a version (runs.ts, test-run.ts); one without is left alone.
  return rows.filter((r): r is SelectedRun => r.versionId !== null);
}

/** The runs' task instances of these tasks, locked in id order unless `lock` is false. */
async function selectInstances(tx: Tx, runIds: string[], taskIds: string[], lock: boolean) {
  const query = tx
    .select({
      id: taskInstances.id,
      runId: taskInstances.runId,
      taskId: taskInstances.taskId,
      mapIndex: taskInstances.mapIndex,
      state: taskInstances.state,
      tryNumber: taskInstances.tryNumber,
    })
    .from(taskInstances)
    .where(and(inArray(taskInstances.runId, runIds), inArray(taskInstances.taskId, taskIds)))
    .orderBy(asc(taskInstances.id));
  return lock ? query.for('update') : query;
}
