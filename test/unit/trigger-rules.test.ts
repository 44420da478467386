import { describe, expect, it } from 'vitest';
import { TRIGGER_RULES, type TriggerRule } from '../../src/dag/types.js';
import { countUpstream, decide, type Decision } from '../../src/state/trigger-rules.js';
import type { TaskState } from '../../src/state/vocabulary.js';

// Short names keep the tables readable: one letter per upstream task's state.
const S = 'success';
const F = 'failed';
const U = 'upstream_failed';
const K = 'skipped';
const R = 'removed';
const N = null;
const Q = 'queued';
const X = 'running';
const T = 'up_for_retry';
const D = 'scheduled';

type State = TaskState | null;
const ALL_STATES: readonly State[] = [N, D, Q, X, S, F, T, U, K, R];
const FINISHED: readonly State[] = [S, F, U, K, R];
const UNFINISHED: readonly State[] = [N, D, Q, X, T];

const decideFor = (rule: TriggerRule, states: readonly State[]): Decision => decide(rule, countUpstream(states));
const label = (states: readonly State[]) => `[${states.map((s) => s ?? 'none').join(', ')}]`;

/** Every multiset of `size` states drawn from `pool` (order does not matter to a rule). */
function multisets(pool: readonly State[], size: number, from = 0): State[][] {
  if (size === 0) return [[]];
  const out: State[][] = [];
  for (let i = from; i < pool.length; i++) {
    for (const rest of multisets(pool, size - 1, i)) out.push([pool[i]!, ...rest]);
  }
  return out;
}
const mixesUpTo = (pool: readonly State[], max: number) =>
  Array.from({ length: max }, (_, i) => multisets(pool, i + 1)).flat();

describe('countUpstream', () => {
  it('counts each finished state and adds them up as done', () => {
    expect(countUpstream([S, S, K, F, U, R, N, D, Q, X, T])).toEqual({
      total: 11,
      success: 2,
      skipped: 1,
      failed: 1,
      upstreamFailed: 1,
      removed: 1,
      done: 6,
    });
  });

  it('counts unfinished states only in the total', () => {
    expect(countUpstream([N, D, Q, X, T])).toEqual({
      total: 5,
      success: 0,
      skipped: 0,
      failed: 0,
      upstreamFailed: 0,
      removed: 0,
      done: 0,
    });
  });

  it('is all zeros without upstream tasks', () => {
    expect(countUpstream([])).toEqual({
      total: 0,
      success: 0,
      skipped: 0,
      failed: 0,
      upstreamFailed: 0,
      removed: 0,
      done: 0,
    });
  });
});

describe('decide: tasks without upstream and the always rule', () => {
  it.each(TRIGGER_RULES)('%s runs a task that has no upstream', (rule) => {
    expect(decideFor(rule, [])).toBe('run');
  });

  it.each(mixesUpTo(ALL_STATES, 2).map((states) => [label(states), states] as const))(
    'always runs with upstream %s',
    (_, states) => expect(decideFor('always', states)).toBe('run'),
  );
});

// [upstream states, decision] for each rule. The rows mix finished and unfinished upstreams
// to show which rules settle before every upstream has finished.
const TABLE: Record<Exclude<TriggerRule, 'always'>, Array<[State[], Decision]>> = {
  all_success: [
    [[S], 'run'],
    [[S, S, S], 'run'],
    [[S, X], 'wait'],
    [[N, N], 'wait'],
    [[S, T], 'wait'],
    [[F], 'upstream_failed'],
    [[U], 'upstream_failed'],
    [[F, X], 'upstream_failed'], // before the others finish
    [[U, N, N], 'upstream_failed'],
    [[K], 'skip'],
    [[K, X], 'skip'], // before the others finish
    [[S, K], 'skip'],
    [[K, F], 'upstream_failed'], // a failure outranks a skip
    [[K, U, X], 'upstream_failed'],
    [[S, R], 'run'], // removed upstreams are not waited for
    [[R], 'run'],
    [[R, X], 'wait'],
  ],
  all_failed: [
    [[F], 'run'],
    [[F, F], 'run'],
    [[F, U], 'run'],
    [[U, U], 'run'],
    [[F, X], 'wait'],
    [[U, N], 'wait'],
    [[S], 'skip'],
    [[K], 'skip'],
    [[S, X], 'skip'], // before the others finish
    [[K, N], 'skip'],
    [[F, S], 'skip'],
    [[F, K], 'skip'],
    [[F, R], 'run'],
    [[R], 'run'],
    [[N, Q], 'wait'],
  ],
  all_done: [
    [[S], 'run'],
    [[F], 'run'],
    [[U], 'run'],
    [[K], 'run'],
    [[R], 'run'],
    [[S, F, U, K, R], 'run'],
    [[S, X], 'wait'],
    [[F, T], 'wait'], // a failed try that will be retried is not done
    [[U, D], 'wait'],
    [[K, Q], 'wait'],
    [[N], 'wait'],
  ],
  all_skipped: [
    [[K], 'run'],
    [[K, K, K], 'run'],
    [[K, X], 'wait'],
    [[N, N], 'wait'],
    [[S], 'skip'],
    [[F], 'skip'],
    [[U], 'skip'],
    [[S, X], 'skip'], // before the others finish
    [[K, F], 'skip'],
    [[K, U, N], 'skip'],
    [[K, R], 'wait'], // Airflow does not discount removed upstreams here: waits for good
    [[R], 'wait'],
    [[R, S], 'skip'],
  ],
  one_success: [
    [[S], 'run'],
    [[S, X], 'run'], // as soon as one succeeds
    [[S, N, N], 'run'],
    [[S, F], 'run'],
    [[S, U, K], 'run'],
    [[X, N], 'wait'],
    [[F, X], 'wait'], // another upstream may still succeed
    [[K, X], 'wait'],
    [[K], 'skip'],
    [[K, K], 'skip'], // every upstream skipped
    [[F], 'upstream_failed'],
    [[U], 'upstream_failed'],
    [[F, F], 'upstream_failed'],
    [[K, F], 'upstream_failed'], // finished without a success and not all skipped
    [[K, U], 'upstream_failed'],
    [[R], 'upstream_failed'], // Airflow: done != skipped, no success
    [[K, R], 'upstream_failed'],
  ],
  one_failed: [
    [[F], 'run'],
    [[U], 'run'], // upstream_failed counts as a failure
    [[F, X], 'run'], // as soon as one fails
    [[U, N, N], 'run'],
    [[S, F], 'run'],
    [[K, U], 'run'],
    [[S, X], 'wait'],
    [[T], 'wait'], // up_for_retry is not failed yet
    [[N], 'wait'],
    [[S], 'skip'],
    [[S, S], 'skip'],
    [[K], 'skip'],
    [[S, K, R], 'skip'],
  ],
  one_done: [
    [[S], 'run'],
    [[F], 'run'],
    [[S, X], 'run'], // as soon as one succeeds or fails
    [[F, N], 'run'],
    [[K, S], 'run'],
    [[U, F], 'run'],
    [[K, X], 'wait'],
    [[U, X], 'wait'],
    [[N], 'wait'],
    [[T], 'wait'],
    [[K], 'skip'], // skipped upstreams did not run
    [[U], 'skip'], // nor did upstream_failed ones
    [[K, U], 'skip'],
    [[R], 'skip'],
    [[K, U, R], 'skip'],
  ],
  none_failed: [
    [[S], 'run'],
    [[K], 'run'],
    [[S, K], 'run'],
    [[K, K], 'run'],
    [[S, R], 'run'],
    [[R], 'run'],
    [[S, X], 'wait'],
    [[K, N], 'wait'],
    [[F], 'upstream_failed'],
    [[U], 'upstream_failed'],
    [[F, X], 'upstream_failed'], // before the others finish
    [[S, K, U], 'upstream_failed'],
  ],
  none_failed_min_one_success: [
    [[S], 'run'],
    [[S, K], 'run'], // a branch: one path taken, the other skipped
    [[S, K, K], 'run'],
    [[K], 'skip'],
    [[K, K], 'skip'], // every branch skipped
    [[K, X], 'wait'],
    [[S, X], 'wait'],
    [[N, N], 'wait'],
    [[F], 'upstream_failed'],
    [[U], 'upstream_failed'],
    [[K, F], 'upstream_failed'],
    [[U, X], 'upstream_failed'], // before the others finish
    [[S, R], 'run'],
    [[K, R], 'run'], // Airflow skips only when every upstream skipped
    [[R], 'run'],
  ],
  none_skipped: [
    [[S], 'run'],
    [[F], 'run'],
    [[U], 'run'],
    [[S, F, U], 'run'],
    [[R], 'run'],
    [[S, X], 'wait'],
    [[F, N], 'wait'],
    [[K], 'skip'],
    [[K, X], 'skip'], // before the others finish
    [[S, K], 'skip'],
    [[F, K], 'skip'],
  ],
};

describe.each(Object.entries(TABLE))('decide: %s', (rule, rows) => {
  it.each(rows.map(([states, decision]) => [label(states), decision, states] as const))(
    'upstream %s -> %s',
    (_, decision, states) => expect(decideFor(rule as TriggerRule, states)).toBe(decision),
  );
});

describe('decide: properties over every mix of up to four upstream states', () => {
  const mixes = mixesUpTo(ALL_STATES, 4);

  it('does not depend on the order of the upstream tasks', () => {
    for (const rule of TRIGGER_RULES) {
      for (const states of mixes) {
        expect(decideFor(rule, [...states].reverse()), `${rule} ${label(states)}`).toBe(decideFor(rule, states));
      }
    }
  });

  it('waits while no upstream has finished, except always', () => {
    for (const rule of TRIGGER_RULES) {
      if (rule === 'always') continue;
      for (const states of mixesUpTo(UNFINISHED, 4)) {
        expect(decideFor(rule, states), `${rule} ${label(states)}`).toBe('wait');
      }
    }
  });

  it('never waits once every upstream has finished, except all_skipped with a removed upstream', () => {
    for (const rule of TRIGGER_RULES) {
      for (const states of mixesUpTo(FINISHED, 4)) {
        const decision = decideFor(rule, states);
        const onlySkippedOrRemoved = states.every((s) => s === K || s === R);
        if (rule === 'all_skipped' && states.includes(R) && onlySkippedOrRemoved) {
          expect(decision, `${rule} ${label(states)}`).toBe('wait');
        } else {
          expect(decision, `${rule} ${label(states)}`).not.toBe('wait');
        }
      }
    }
  });

  it('settles as upstream_failed only for rules that require no failure or a success', () => {
    const canFail = new Set<TriggerRule>(['all_success', 'one_success', 'none_failed', 'none_failed_min_one_success']);
    for (const rule of TRIGGER_RULES) {
      if (canFail.has(rule)) continue;
      for (const states of mixes)
        expect(decideFor(rule, states), `${rule} ${label(states)}`).not.toBe('upstream_failed');
    }
  });

  it('treats every unfinished state alike (none, scheduled, queued, running, up_for_retry)', () => {
    for (const rule of TRIGGER_RULES) {
      for (const states of mixesUpTo(FINISHED, 3)) {
        const expected = decideFor(rule, [...states, N]);
        for (const pending of UNFINISHED) {
          expect(decideFor(rule, [...states, pending]), `${rule} ${label([...states, pending])}`).toBe(expected);
        }
      }
    }
  });

  it('keeps a decision other than wait when the remaining upstreams succeed', () => {
    // The scheduler acts on the first non-wait answer; it must not flip once more upstreams finish well.
    for (const rule of TRIGGER_RULES) {
      for (const states of mixes) {
        const decision = decideFor(rule, states);
        if (decision === 'wait') continue;
        const finished = states.map((s) => (UNFINISHED.includes(s) ? S : s));
        const later = decideFor(rule, finished);
        expect(later, `${rule} ${label(states)} then ${label(finished)}`).toBe(decision);
      }
    }
  });
});

// ---- Propagation: settle a small DAG the way the scheduler loop would ----

interface SimTask {
  upstream?: string[];
  rule?: TriggerRule;
  /** The state the task ends in if it runs (its callable succeeds, fails, or throws SkipTask); 'running' never ends. */
  outcome?: 'success' | 'failed' | 'skipped' | 'running';
}

/**
 * Applies `decide` to every task in state none until nothing changes, as repeated
 * scheduler passes would. A task that runs ends in its `outcome` (default success).
 * Returns the final state of each task; tasks still waiting stay null.
 */
function settle(dag: Record<string, SimTask>): Record<string, State> {
  const state: Record<string, State> = Object.fromEntries(Object.keys(dag).map((id) => [id, null]));
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id, task] of Object.entries(dag)) {
      if (state[id] !== null) continue;
      const decision = decideFor(
        task.rule ?? 'all_success',
        (task.upstream ?? []).map((up) => state[up]!),
      );
      if (decision === 'wait') continue;
      state[id] =
        decision === 'run' ? (task.outcome ?? 'success') : decision === 'skip' ? 'skipped' : 'upstream_failed';
      changed = true;
    }
  }
  return state;
}

/** a -> b -> c with the given rules for b and c. */
const chain = (a: SimTask, b: SimTask, c: SimTask) =>
  settle({ a, b: { upstream: ['a'], ...b }, c: { upstream: ['b'], ...c } });

describe('propagation down a chain a -> b -> c', () => {
  it('runs everything when every task succeeds', () => {
    expect(chain({}, {}, {})).toEqual({ a: S, b: S, c: S });
  });

  it('turns all_success downstream into upstream_failed all the way down after a failure', () => {
    expect(chain({ outcome: F }, {}, {})).toEqual({ a: F, b: U, c: U });
  });

  it('propagates a skip down all_success tasks', () => {
    expect(chain({ outcome: K }, {}, {})).toEqual({ a: K, b: K, c: K });
  });

  it('still runs an all_done task after an upstream_failed upstream', () => {
    expect(chain({ outcome: F }, {}, { rule: 'all_done' })).toEqual({ a: F, b: U, c: S });
  });

  it('runs all_done after a skipped upstream too', () => {
    expect(chain({ outcome: K }, {}, { rule: 'all_done' })).toEqual({ a: K, b: K, c: S });
  });

  it('runs a one_failed handler on an upstream_failed upstream', () => {
    expect(chain({ outcome: F }, {}, { rule: 'one_failed' })).toEqual({ a: F, b: U, c: S });
  });

  it('skips a one_failed handler, and what follows it, when nothing failed', () => {
    expect(chain({}, { rule: 'one_failed' }, {})).toEqual({ a: S, b: K, c: K });
  });

  it('lets all_failed run after a failure and resumes all_success below it', () => {
    expect(chain({ outcome: F }, { rule: 'all_failed' }, {})).toEqual({ a: F, b: S, c: S });
  });

  it('stops none_failed at a failure but lets a skip through', () => {
    expect(chain({ outcome: F }, { rule: 'none_failed' }, {})).toEqual({ a: F, b: U, c: U });
    expect(chain({ outcome: K }, { rule: 'none_failed' }, {})).toEqual({ a: K, b: S, c: S });
  });

  it('skips none_skipped after a skip; all_skipped below it then runs', () => {
    expect(chain({ outcome: K }, { rule: 'none_skipped' }, { rule: 'all_skipped' })).toEqual({ a: K, b: K, c: S });
  });

  it('does not count upstream_failed as done for one_done', () => {
    expect(chain({ outcome: F }, {}, { rule: 'one_done' })).toEqual({ a: F, b: U, c: K });
  });

  it('ends always tasks regardless, and all_success resumes after them', () => {
    expect(chain({ outcome: F }, { rule: 'always' }, {})).toEqual({ a: F, b: S, c: S });
  });
});

describe('propagation through a branch and a join', () => {
  // branch -> (left, right) -> join -> after
  const branchDag = (left: SimTask, right: SimTask, joinRule: TriggerRule): Record<string, SimTask> => ({
    branch: {},
    left: { upstream: ['branch'], ...left },
    right: { upstream: ['branch'], ...right },
    join: { upstream: ['left', 'right'], rule: joinRule },
    after: { upstream: ['join'] },
  });

  it('none_failed_min_one_success joins the path taken and ignores the skipped one', () => {
    expect(settle(branchDag({}, { outcome: K }, 'none_failed_min_one_success'))).toMatchObject({ join: S, after: S });
  });

  it('none_failed_min_one_success skips the join when every path was skipped', () => {
    expect(settle(branchDag({ outcome: K }, { outcome: K }, 'none_failed_min_one_success'))).toMatchObject({
      join: K,
      after: K,
    });
  });

  it('all_success skips the join when one path was skipped (why branches need another rule)', () => {
    expect(settle(branchDag({}, { outcome: K }, 'all_success'))).toMatchObject({ join: K, after: K });
  });

  it('one_success runs the join after one path succeeds although the other failed', () => {
    expect(settle(branchDag({ outcome: F }, {}, 'one_success'))).toMatchObject({
      left: F,
      right: S,
      join: S,
      after: S,
    });
  });

  it('one_success marks the join upstream_failed when no path succeeded', () => {
    expect(settle(branchDag({ outcome: F }, { outcome: K }, 'one_success'))).toMatchObject({ join: U, after: U });
  });

  it('settles a join before its slow upstream finishes', () => {
    expect(settle(branchDag({ outcome: F }, { outcome: X }, 'all_success'))).toMatchObject({
      right: X,
      join: U,
      after: U,
    });
    expect(settle(branchDag({}, { outcome: X }, 'one_success'))).toMatchObject({ right: X, join: S, after: S });
    expect(settle(branchDag({ outcome: F }, { outcome: X }, 'one_failed'))).toMatchObject({
      right: X,
      join: S,
      after: S,
    });
  });

  it('leaves the join waiting while a slow upstream could still change the answer', () => {
    expect(settle(branchDag({}, { outcome: X }, 'all_success'))).toMatchObject({ right: X, join: N, after: N });
    expect(settle(branchDag({ outcome: K }, { outcome: X }, 'none_failed_min_one_success'))).toMatchObject({
      join: N,
      after: N,
    });
    expect(settle(branchDag({ outcome: F }, { outcome: X }, 'all_done'))).toMatchObject({ join: N, after: N });
  });
});
