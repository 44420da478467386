import type { TriggerRule } from '../dag/types.js';
import { UpdraftError } from '../errors.js';
import { countUpstream, decide } from './trigger-rules.js';
import { FAILED_TASK_STATES, isUnfinished, type FinishedRunState, type TaskState } from './vocabulary.js';

/** One task instance of a run. */
export interface RunTask {
  taskId: string;
  state: TaskState | null;
}

/** A task's place in the DAG: what runState needs to tell a deadlock from a run about to move on. */
export interface TaskDeps {
  upstream: Iterable<string>;
  triggerRule: TriggerRule;
}

/** What runState derives: the run goes on, or how it ended. */
export type DerivedRunState = 'running' | FinishedRunState;

const FAILED: ReadonlySet<TaskState | null> = new Set(FAILED_TASK_STATES);

/**
 * The run's state from its task instances' states, as Airflow's DagRun.update_state
 * (2.9/2.10) decides it, in this order:
 *
 * 1. Every task finished and any leaf failed or upstream_failed: 'failed'.
 * 2. Every task finished otherwise (every leaf success or skipped): 'success'.
 *    Removed leaves are left out, so a run whose leaves were all removed succeeds,
 *    and so does a run without tasks.
 * 3. Deadlock: tasks are unfinished but none is scheduled, queued, running,
 *    up_for_retry or up_for_reschedule, and every one in state none would still wait by its trigger
 *    rule, so nothing can ever change: 'failed'.
 * 4. Otherwise 'running'.
 *
 * A failed leaf does not end the run early: Airflow waits until every task,
 * leaf or not, has finished (no fail-fast). Tasks that are not leaves never
 * decide the outcome: a failure handled downstream (an all_done cleanup leaf
 * that succeeds) leaves the run successful.
 *
 * `deps` must cover every task in state none: the deadlock check evaluates their
 * trigger rules. An upstream id without a task instance counts as unfinished.
 */
export function runState(
  tasks: readonly RunTask[],
  leaves: ReadonlySet<string>,
  deps: ReadonlyMap<string, TaskDeps>,
): DerivedRunState {
  const unfinished = tasks.filter((t) => isUnfinished(t.state));

  if (unfinished.length === 0) {
    const leafFailed = tasks.some((t) => leaves.has(t.taskId) && FAILED.has(t.state));
    return leafFailed ? 'failed' : 'success';
  }

  // Anything scheduled, queued, running or waiting to retry or to poke again will move on by itself.
  if (unfinished.some((t) => t.state !== null)) return 'running';

  // A mapped task has several instances: each counts.
  const stateOf = new Map<string, (TaskState | null)[]>();
  for (const t of tasks) stateOf.set(t.taskId, [...(stateOf.get(t.taskId) ?? []), t.state]);
  const stuck = unfinished.every((t) => {
    const taskDeps = deps.get(t.taskId);
    if (!taskDeps) throw new UpdraftError(`runState: no dependencies given for task '${t.taskId}'`);
    const upstreamStates = [...taskDeps.upstream].flatMap((id) => stateOf.get(id) ?? [null]);
    return decide(taskDeps.triggerRule, countUpstream(upstreamStates)) === 'wait';
  });
  return stuck ? 'failed' : 'running';
}
