/** A run's end: derived from its task instances' states, as Airflow's DagRun.update_state. */
import { endRun, leafFailed, runProgress, runTaskStates } from '../db/sql/finish-run.js';
import type { Tx } from '../db/execute.js';
import type { DagStructure } from './dag-cache.js';
import { runState } from './run-state.js';
import type { FinishedRunState, TaskState } from './vocabulary.js';

/** A run that ended: `runRowId` is its row, `runId` the id users see ('scheduled__2026-...'). */
export interface FinishedRun {
  runRowId: string;
  runId: string;
  dagId: string;
  state: FinishedRunState;
}

/**
 * Ends the run when its tasks are all done (or can never move again), as Airflow derives it.
 * The caller holds the run's row lock.
 */
export async function finishRunIfDone(
  tx: Tx,
  runRowId: string,
  structure: DagStructure,
): Promise<{ state: FinishedRunState; runId: string } | null> {
  const { unfinished, moving } = await runProgress(tx, runRowId);
  if (moving) return null;
  let state: FinishedRunState | null;
  if (!unfinished) {
    state = (await leafFailed(tx, runRowId, structure.leaves)) ? 'failed' : 'success';
  } else {
    // Unfinished tasks and nothing moving: a deadlock, or tasks whose decision is still to come.
    const all = await runTaskStates<TaskState>(tx, runRowId);
    const derived = runState(
      all.map((t) => ({ taskId: t.task_id, state: t.state })),
      structure.leaves,
      structure.deps,
    );
    state = derived === 'running' ? null : derived;
  }
  if (!state) return null;
  return { state, runId: await endRun(tx, runRowId, state) };
}
