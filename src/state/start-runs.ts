/** Starting runs: queued -> running, with their task instances (roots and `always` tasks scheduled). */
import type { Db } from '../db/client.js';
import type { Tx } from '../db/execute.js';
import {
  insertTaskInstanceRows,
  lockQueuedRuns,
  markRunsRunning,
  type NewTaskInstance,
  startableRuns,
  tryStartLock,
} from '../db/sql/start-runs.js';
import type { DagCache, DagStructure } from './dag-cache.js';
import { evaluateRun } from './evaluate-run.js';
import type { StateChange } from './decide.js';
import { finishRunIfDone } from './finish-run.js';
import { notify } from '../db/notify.js';

export interface StartedRun {
  id: string;
  dagId: string;
  /** Tasks made ready: the roots of a new run, and its `always` tasks. */
  scheduled: string[];
  /** Every task instance whose state this start decided (the scheduled ones included). */
  changes: StateChange[];
  /** A run started again after a clear may have nothing left to do: it ended at once. */
  finished?: { state: 'success' | 'failed'; runId: string };
}

/**
 * Null when another scheduler is starting runs right now (it holds the start lock): the
 * caller looks again shortly, since that scheduler may have read the queue before a run
 * now waiting in it was committed.
 *
 * Moves queued runs to running, oldest logical date first, within each DAG's (or
 * backfill's) maxActiveRuns, and creates their task instances: roots and `always` tasks
 * scheduled, the rest waiting for their upstream tasks. A run queued again by a clear keeps its task
 * instances: those cleared (state none) are decided by their trigger rules.
 */
export async function startQueuedRuns(db: Db, cache: DagCache, now = new Date()): Promise<StartedRun[] | null> {
  return db.transaction(async (tx) => {
    if (!(await tryStartLock(tx))) return null;
    const rows = await startableRuns(tx);
    if (rows.length === 0) return [];
    // Locked and checked again: a run cancelled or marked since the read above must not start.
    const queued = await lockQueuedRuns(
      tx,
      rows.map((r) => r.id),
    );
    const started: StartedRun[] = [];
    const restarted: { run: StartedRun; structure: DagStructure }[] = [];
    for (const run of rows.filter((r) => queued.has(r.id))) {
      const structure = await cache.get(run.dag_version_id, tx);
      const { scheduled, inserted } = await insertTaskInstances(tx, run.id, structure, now);
      const entry: StartedRun = {
        id: run.id,
        dagId: structure.dagId,
        scheduled,
        changes: scheduled.map((taskId) => ({ runRowId: run.id, taskId, state: 'scheduled' })),
      };
      started.push(entry);
      // Mapped roots wait in state none to be expanded by evaluateRun (src/state/expand-mapping.ts).
      if (inserted < structure.tasks.size || hasMappedRoots(structure)) restarted.push({ run: entry, structure });
    }
    if (started.length > 0) {
      await markRunsRunning(
        tx,
        started.map((r) => r.id),
        now,
      );
      for (const { run, structure } of restarted) {
        const changes = await evaluateRun(tx, run.id, structure);
        run.changes.push(...changes);
        run.scheduled.push(...changes.filter((c) => c.state === 'scheduled').map((c) => c.taskId));
        if (run.scheduled.length === 0) run.finished = (await finishRunIfDone(tx, run.id, structure)) ?? undefined;
      }
      // Runs moved to running either way: without work for executors, only live pages hear of it.
      await notify(tx, started.some((r) => r.scheduled.length > 0) ? 'work' : 'state');
    }
    return started;
  });
}

/**
 * Inserts one task instance per task of the run's DAG version; returns the ids of those
 * scheduled (the roots, and the `always` tasks). `queue` puts every task on one queue (`updraft dags test`
 * serves a private one, so no other process takes its tasks).
 */
export async function createTaskInstances(
  tx: Tx,
  runId: string,
  structure: DagStructure,
  now: Date,
  queue?: string,
): Promise<string[]> {
  const { scheduled } = await insertTaskInstances(tx, runId, structure, now, queue);
  if (hasMappedRoots(structure))
    scheduled.push(
      ...(await evaluateRun(tx, runId, structure)).filter((c) => c.state === 'scheduled').map((c) => c.taskId),
    );
  return scheduled;
}

function hasMappedRoots(structure: DagStructure): boolean {
  return structure.roots.some((id) => structure.tasks.get(id)!.mapped);
}

const startersOf = new WeakMap<DagStructure, string[]>();

/**
 * The tasks a new run schedules at once, in the DAG's order: the roots, and the tasks whose
 * trigger rule is `always`, which Airflow gives no dependency at all (they run alongside
 * their upstream tasks). Mapped ones wait to be expanded (src/state/expand-mapping.ts).
 */
function starters(structure: DagStructure): string[] {
  let ids = startersOf.get(structure);
  if (!ids) {
    ids = [...structure.tasks.values()]
      .filter((t) => !t.mapped && (t.upstream.length === 0 || t.triggerRule === 'always'))
      .map((t) => t.id);
    startersOf.set(structure, ids);
  }
  return ids;
}

/** createTaskInstances, also telling how many were new: fewer than the DAG's tasks when the run had some already. */
async function insertTaskInstances(
  tx: Tx | Db,
  runId: string,
  structure: DagStructure,
  now: Date,
  queue?: string,
): Promise<{ scheduled: string[]; inserted: number }> {
  const ready = new Set(starters(structure));
  const tasks: NewTaskInstance[] = [...structure.tasks.values()].map((t) => ({
    task_id: t.id,
    state: ready.has(t.id) ? 'scheduled' : null,
    max_tries: t.retries + 1,
    priority: t.priority,
    pool: t.pool,
    queue: queue ?? t.queue,
    operator: t.operator,
  }));
  const rows = await insertTaskInstanceRows(tx, runId, structure.dagRowId, tasks, now);
  // In the DAG's order.
  const inserted = new Set(rows.filter((r) => r.state === 'scheduled').map((r) => r.task_id));
  return { scheduled: starters(structure).filter((id) => inserted.has(id)), inserted: rows.length };
}
