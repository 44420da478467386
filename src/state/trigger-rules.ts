import type { TriggerRule } from '../dag/types.js';
import type { TaskState } from './vocabulary.js';

/**
 * Trigger rules with Airflow's semantics: what the scheduler does with a task
 * instance whose state is still none (null), given its upstream tasks' states.
 *
 * Reference: Airflow 2.9/2.10 TriggerRuleDep._evaluate_trigger_rule as the
 * scheduler calls it (flag_upstream_failed = true). Airflow works in two steps:
 * first it may set the task to skipped or upstream_failed, then it checks whether
 * the dependency is met. `decide` folds both into one answer; a task that Airflow
 * would mark skipped or upstream_failed never runs, even when the second step
 * would have passed (none_failed_min_one_success with every upstream skipped).
 *
 * Updraft has no setup/teardown tasks and no depends_on_past, so the parts of
 * Airflow's rule that deal with those are left out. A mapped task's instances each
 * count as one upstream, as Airflow counts each expanded task instance (the callers
 * pass every instance's state: src/state/expand-mapping.ts).
 */

/** How many upstream task instances are in each finished state. */
export interface UpstreamCounts {
  /** Upstream tasks, finished or not. */
  total: number;
  success: number;
  skipped: number;
  failed: number;
  upstreamFailed: number;
  removed: number;
  /** success + skipped + failed + upstreamFailed + removed. */
  done: number;
}

/**
 * What to do with a task in state none: leave it (`wait`), queue it (`run`),
 * or settle it as skipped or upstream_failed without running it.
 */
export type Decision = 'wait' | 'run' | 'skip' | 'upstream_failed';

/** Counts the upstream states; unfinished states (none, scheduled, queued, running, up_for_retry, up_for_reschedule) only add to `total`. */
export function countUpstream(states: readonly (TaskState | null)[]): UpstreamCounts {
  const counts: UpstreamCounts = {
    total: states.length,
    success: 0,
    skipped: 0,
    failed: 0,
    upstreamFailed: 0,
    removed: 0,
    done: 0,
  };
  for (const state of states) {
    switch (state) {
      case 'success':
        counts.success++;
        break;
      case 'skipped':
        counts.skipped++;
        break;
      case 'failed':
        counts.failed++;
        break;
      case 'upstream_failed':
        counts.upstreamFailed++;
        break;
      case 'removed':
        counts.removed++;
        break;
      default:
        continue;
    }
    counts.done++;
  }
  return counts;
}

/**
 * What to do with a task whose state is null (none), given its upstream tasks'
 * states. Matches Airflow's TriggerRuleDep._evaluate_trigger_rule (Airflow
 * 2.9/2.10) with flag_upstream_failed = true.
 *
 * Removed upstreams count as done. Where Airflow subtracts removed upstreams
 * before requiring success (all_success, all_failed, none_failed,
 * none_failed_min_one_success) so does this; Airflow does that only for
 * expanded mapped task instances, the one case where it ever sees a removed
 * upstream. all_skipped does not subtract them, as in Airflow, so a removed
 * upstream keeps an all_skipped task waiting (runState reports the deadlock).
 */
export function decide(rule: TriggerRule, up: UpstreamCounts): Decision {
  if (up.total === 0 || rule === 'always') return 'run';

  const { total, success, skipped, failed, upstreamFailed, removed, done } = up;
  const allDone = done >= total;
  const anyFailed = failed + upstreamFailed > 0;

  switch (rule) {
    case 'all_success':
      // Settled as soon as one upstream fails or skips; the others need not finish.
      if (anyFailed) return 'upstream_failed';
      if (skipped > 0) return 'skip';
      return total - success - removed > 0 ? 'wait' : 'run';
    case 'all_failed':
      if (success + skipped > 0) return 'skip';
      return total - failed - upstreamFailed - removed > 0 ? 'wait' : 'run';
    case 'all_done':
      return allDone ? 'run' : 'wait';
    case 'all_skipped':
      if (success + failed + upstreamFailed > 0) return 'skip';
      return total - skipped > 0 ? 'wait' : 'run';
    case 'one_success':
      if (success > 0) return 'run';
      if (!allDone) return 'wait';
      // All finished without a success: skipped when every upstream skipped, else a failure.
      return done === skipped ? 'skip' : 'upstream_failed';
    case 'one_failed':
      if (anyFailed) return 'run';
      return allDone ? 'skip' : 'wait';
    case 'one_done':
      // Only success and failed count: skipped and upstream_failed upstreams did not run.
      if (success + failed > 0) return 'run';
      return allDone ? 'skip' : 'wait';
    case 'none_failed':
      if (anyFailed) return 'upstream_failed';
      return total - success - skipped - removed > 0 ? 'wait' : 'run';
    case 'none_failed_min_one_success':
      if (anyFailed) return 'upstream_failed';
      // Airflow skips only when every upstream skipped, not whenever no upstream succeeded.
      if (skipped === total) return 'skip';
      return total - success - skipped - removed > 0 ? 'wait' : 'run';
    case 'none_skipped':
      if (skipped > 0) return 'skip';
      return allDone ? 'run' : 'wait';
  }
}
