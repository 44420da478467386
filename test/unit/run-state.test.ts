import { describe, expect, it } from 'vitest';
import type { TriggerRule } from '../../src/dag/types.js';
import { UpdraftError } from '../../src/errors.js';
import { runState, type RunTask, type TaskDeps } from '../../src/state/run-state.js';
import { isUnfinished } from '../../src/state/vocabulary.js';
import type { TaskState } from '../../src/state/vocabulary.js';

type State = TaskState | null;

interface Spec {
  state: State;
  upstream?: string[];
  rule?: TriggerRule;
}

/**
 * A run from a compact description: each task's state, upstream ids and rule.
 * Leaves are the tasks nothing depends on, as the scheduler would compute them.
 */
function run(spec: Record<string, Spec>) {
  const tasks: RunTask[] = Object.entries(spec).map(([taskId, s]) => ({ taskId, state: s.state }));
  const deps = new Map<string, TaskDeps>(
    Object.entries(spec).map(([id, s]) => [id, { upstream: s.upstream ?? [], triggerRule: s.rule ?? 'all_success' }]),
  );
  const upstreamIds = new Set(Object.values(spec).flatMap((s) => s.upstream ?? []));
  const leaves = new Set(Object.keys(spec).filter((id) => !upstreamIds.has(id)));
  return runState(tasks, leaves, deps);
}

/** a -> b -> c in the given states. */
const chain = (a: State, b: State, c: State, rules: { b?: TriggerRule; c?: TriggerRule } = {}) =>
  run({
    a: { state: a },
    b: { state: b, upstream: ['a'], rule: rules.b },
    c: { state: c, upstream: ['b'], rule: rules.c },
  });

describe('isUnfinished', () => {
  it.each([null, 'scheduled', 'queued', 'running', 'up_for_retry'] as const)('%s is unfinished', (state) =>
    expect(isUnfinished(state)).toBe(true),
  );
  it.each(['success', 'failed', 'upstream_failed', 'skipped', 'removed'] as const)('%s is finished', (state) =>
    expect(isUnfinished(state)).toBe(false),
  );
});

describe('runState: while tasks are unfinished', () => {
  it('is running when the run has just been created (every task none, roots can run)', () => {
    expect(chain(null, null, null)).toBe('running');
  });

  it.each(['scheduled', 'queued', 'running', 'up_for_retry'] as const)('is running while a task is %s', (state) => {
    expect(chain('success', state, null)).toBe('running');
  });

  it('is running while a task in state none is about to run', () => {
    expect(chain('success', 'success', null)).toBe('running');
  });

  it('is running while a task in state none is about to be skipped or marked upstream_failed', () => {
    // The scheduler has not yet written the decision; the next pass will, and then the run ends.
    expect(chain('failed', null, null)).toBe('running');
    expect(chain('skipped', null, null)).toBe('running');
  });

  it('stays running after a leaf failed while another branch still runs (no fail-fast)', () => {
    expect(
      run({
        root: { state: 'success' },
        broken: { state: 'failed', upstream: ['root'] },
        slow: { state: 'running', upstream: ['root'] },
      }),
    ).toBe('running');
  });

  it('stays running while a non-leaf retries, even if every leaf has finished', () => {
    expect(
      run({
        a: { state: 'up_for_retry' },
        leaf: { state: 'success' },
        b: { state: null, upstream: ['a'] },
      }),
    ).toBe('running');
  });
});

describe('runState: every task finished', () => {
  it('succeeds when every task succeeded', () => {
    expect(chain('success', 'success', 'success')).toBe('success');
  });

  it('succeeds when the leaves were skipped', () => {
    expect(chain('skipped', 'skipped', 'skipped')).toBe('success');
    expect(chain('success', 'skipped', 'skipped')).toBe('success');
  });

  it('fails when a leaf failed', () => {
    expect(chain('success', 'success', 'failed')).toBe('failed');
  });

  it('fails when a leaf is upstream_failed', () => {
    expect(chain('failed', 'upstream_failed', 'upstream_failed')).toBe('failed');
  });

  it('fails when one leaf of several failed and the others succeeded', () => {
    expect(
      run({
        root: { state: 'success' },
        ok: { state: 'success', upstream: ['root'] },
        bad: { state: 'failed', upstream: ['root'] },
      }),
    ).toBe('failed');
  });

  it('succeeds when only a non-leaf failed and the leaf handled it (all_done cleanup)', () => {
    expect(chain('success', 'failed', 'success', { c: 'all_done' })).toBe('success');
  });

  it('succeeds when a failure was handled by a one_failed leaf', () => {
    expect(chain('failed', 'success', 'success', { b: 'one_failed' })).toBe('success');
  });

  it('ignores removed leaves', () => {
    expect(
      run({
        root: { state: 'success' },
        gone: { state: 'removed', upstream: ['root'] },
        kept: { state: 'success', upstream: ['root'] },
      }),
    ).toBe('success');
  });

  it('succeeds when every leaf was removed', () => {
    expect(chain('success', 'success', 'removed')).toBe('success');
  });

  it('succeeds for a run without tasks', () => {
    expect(runState([], new Set(), new Map())).toBe('success');
  });

  it('judges only the given leaves', () => {
    const tasks: RunTask[] = [
      { taskId: 'a', state: 'failed' },
      { taskId: 'b', state: 'success' },
    ];
    expect(runState(tasks, new Set(['b']), new Map())).toBe('success');
    expect(runState(tasks, new Set(['a', 'b']), new Map())).toBe('failed');
  });
});

describe('runState: deadlock', () => {
  it('fails when every unfinished task is none and none of them can ever run', () => {
    // all_skipped never discounts a removed upstream, so b waits for good, and c waits on b.
    expect(
      run({
        gone: { state: 'removed' },
        b: { state: null, upstream: ['gone'], rule: 'all_skipped' },
        c: { state: null, upstream: ['b'] },
      }),
    ).toBe('failed');
  });

  it('fails when a task waits on an upstream that has no task instance', () => {
    const tasks: RunTask[] = [{ taskId: 'b', state: null }];
    const deps = new Map<string, TaskDeps>([['b', { upstream: ['missing'], triggerRule: 'all_done' }]]);
    expect(runState(tasks, new Set(['b']), deps)).toBe('failed');
  });

  it('is not a deadlock while any task is active, even if the others wait', () => {
    expect(
      run({
        gone: { state: 'removed' },
        b: { state: null, upstream: ['gone'], rule: 'all_skipped' },
        other: { state: 'running' },
      }),
    ).toBe('running');
  });

  it('is not a deadlock when one waiting task can still be settled', () => {
    expect(
      run({
        gone: { state: 'removed' },
        b: { state: null, upstream: ['gone'], rule: 'all_skipped' },
        a: { state: 'failed' },
        c: { state: null, upstream: ['a'] },
      }),
    ).toBe('running');
  });

  it('accepts upstream ids as a Set', () => {
    const tasks: RunTask[] = [
      { taskId: 'a', state: 'success' },
      { taskId: 'b', state: null },
    ];
    const deps = new Map<string, TaskDeps>([
      ['a', { upstream: new Set<string>(), triggerRule: 'all_success' }],
      ['b', { upstream: new Set(['a']), triggerRule: 'all_success' }],
    ]);
    expect(runState(tasks, new Set(['b']), deps)).toBe('running');
  });

  it('throws when a task in state none has no dependencies given', () => {
    const tasks: RunTask[] = [{ taskId: 'a', state: null }];
    expect(() => runState(tasks, new Set(['a']), new Map())).toThrow(UpdraftError);
    expect(() => runState(tasks, new Set(['a']), new Map())).toThrow("no dependencies given for task 'a'");
  });
});
