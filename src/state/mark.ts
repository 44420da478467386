/**
 * A person ends a run: `runs mark <dag> <run> success|failed` and `runs cancel`, as
 * Airflow's "mark success", "mark failed" and the API's run state change do.
 */
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb, type Tx } from '../db/execute.js';
import { auditLog, dagRuns, dags, taskInstances } from '../db/schema.js';
import { NotFoundError, UpdraftError } from '../errors.js';
import { isUnfinished, type RunState, type TaskState } from './vocabulary.js';
import { notify } from '../db/notify.js';

/** A task instance whose state the action changed. */
export interface ChangedTask {
  taskId: string;
  from: TaskState | null;
  to: TaskState;
  /** It was queued or running: its try is stopped (the executor holding it aborts it). */
  stopped: boolean;
}

export interface RunStateChange {
  dagId: string;
  runId: string;
  /** The run's state before the action. */
  previous: RunState;
  state: 'success' | 'failed';
  tasks: ChangedTask[];
}

export interface RunActionOptions {
  /** Who asks, for the audit log: 'cli:alice'. */
  actor: string;
}

/** A DAG's row by its id; NotFoundError names it. */
export async function dagRowId(tx: Tx | Db, dagId: string): Promise<string> {
  const [row] = await tx.select({ id: dags.id }).from(dags).where(eq(dags.dagId, dagId));
  if (!row) throw new NotFoundError(`no DAG with id '${dagId}' (see 'updraft dags list')`);
  return row.id;
}

/**
 * The run `runId` (as `runs list` shows it, or 'latest': the newest logical date),
 * locked against the scheduler and finishing tasks until the transaction ends.
 */
export async function lockRun(
  tx: Tx,
  dagId: string,
  runId: string,
): Promise<{ id: string; runId: string; state: RunState }> {
  const dagRow = await dagRowId(tx, dagId);
  const [run] = await tx
    .select({ id: dagRuns.id, runId: dagRuns.runId, state: dagRuns.state })
    .from(dagRuns)
    .where(and(eq(dagRuns.dagId, dagRow), runId === 'latest' ? undefined : eq(dagRuns.runId, runId)))
    .orderBy(desc(dagRuns.logicalDate))
    .limit(1)
    .for('update');
  if (!run) {
    throw new NotFoundError(
      runId === 'latest'
        ? `DAG '${dagId}' has no runs yet`
        : `DAG '${dagId}' has no run '${runId}' (see 'updraft runs list ${dagId}')`,
    );
  }
  return run;
}

/**
 * Sets a run's state as a person decides, Airflow's way:
 * - success: every task instance that is not success, skipped or removed becomes
 *   success (failed ones too, so the run and its grid agree);
 * - failed: queued and running task instances become failed, the unfinished rest
 *   (none, scheduled, up_for_retry, up_for_reschedule) skipped; finished ones keep their state.
 * Tries still queued or running are stopped: their lease is revoked, so the executor
 * holding them aborts them at its next heartbeat and their results are refused.
 */
export async function markRun(
  db: Db,
  dagId: string,
  runId: string,
  state: 'success' | 'failed',
  options: RunActionOptions,
): Promise<RunStateChange> {
  return endRun(db, dagId, runId, state, options.actor, 'mark');
}

/**
 * Stops a queued or running run: it becomes failed, queued and running task instances
 * failed with 'cancelled: the run was cancelled by <actor>', the unfinished rest skipped, as
 * `markRun(..., 'failed')` does. A finished run cannot be cancelled (mark it instead).
 */
export async function cancelRun(
  db: Db,
  dagId: string,
  runId: string,
  options: RunActionOptions,
): Promise<RunStateChange> {
  return endRun(db, dagId, runId, 'failed', options.actor, 'cancel');
}

async function endRun(
  db: Db,
  dagId: string,
  runId: string,
  state: 'success' | 'failed',
  actor: string,
  action: 'mark' | 'cancel',
): Promise<RunStateChange> {
  return db.transaction(async (tx) => {
    const run = await lockRun(tx, dagId, runId);
    if (action === 'cancel' && run.state !== 'queued' && run.state !== 'running') {
      throw new UpdraftError(
        `run '${run.runId}' of DAG '${dagId}' has already ended (${run.state}): only queued or running runs can be cancelled ('updraft runs mark' changes an ended run's state)`,
      );
    }
    const instances = await tx
      .select({ id: taskInstances.id, taskId: taskInstances.taskId, state: taskInstances.state })
      .from(taskInstances)
      .where(eq(taskInstances.runId, run.id))
      .orderBy(asc(taskInstances.id))
      .for('update');
    const changes: (ChangedTask & { id: string })[] = [];
    for (const ti of instances) {
      const to = targetState(ti.state, state);
      if (to)
        changes.push({
          id: ti.id,
          taskId: ti.taskId,
          from: ti.state,
          to,
          stopped: ti.state === 'queued' || ti.state === 'running',
        });
    }
    const why = action === 'cancel' ? `the run was cancelled by ${actor}` : `the run was marked ${state} by ${actor}`;
    if (changes.length > 0) {
      // The executor reads the reason of a stopped try from `error` (src/executor/leases.ts).
      await execute(
        tx,
        sql`update task_instances ti
               set state = v.state::task_state, error = v.error, owner = null, lease = null, next_try_at = null, sensor_started_at = null,
                   ended_at = case when v.unfinished then now() else ti.ended_at end, updated_at = now()
              from jsonb_to_recordset(${jsonb(
                changes.map((c) => ({
                  id: c.id,
                  state: c.to,
                  unfinished: isUnfinished(c.from),
                  error: c.stopped && c.to !== 'success' ? `cancelled: ${why}` : null,
                })),
              )}) as v(id uuid, state text, unfinished boolean, error text)
             where ti.id = v.id`,
      );
    }
    await tx
      .update(dagRuns)
      .set({ state, endedAt: run.state === state ? sql`coalesce(${dagRuns.endedAt}, now())` : sql`now()` })
      .where(eq(dagRuns.id, run.id));
    const byState: Record<string, string[]> = {};
    for (const c of changes) {
      byState[c.to] ??= [];
      byState[c.to].push(c.taskId);
    }
    await tx.insert(auditLog).values({
      actor,
      action: action === 'cancel' ? 'run.cancel' : `run.mark_${state}`,
      dagId,
      runId: run.runId,
      details: {
        previous: run.state,
        state,
        tasks: byState,
        stopped: changes.filter((c) => c.stopped).map((c) => c.taskId),
      },
    });
    // Schedulers may start a queued run in the room this one leaves.
    await notify(tx, 'runs');
    const tasks = changes
      .map(({ id: _, ...c }) => c)
      .sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
    return { dagId, runId: run.runId, previous: run.state, state, tasks };
  });
}

/**
 * What a task instance in `from` becomes when its run is marked `run`; undefined: it stays.
 * Queued counts as running here: its try was claimed (a try number is used up) and may
 * have started already, so it is stopped and fails like a running one.
 */
function targetState(from: TaskState | null, run: 'success' | 'failed'): TaskState | undefined {
  if (run === 'success') return from === 'success' || from === 'skipped' || from === 'removed' ? undefined : 'success';
  if (from === 'running' || from === 'queued') return 'failed';
  return isUnfinished(from) ? 'skipped' : undefined;
}
