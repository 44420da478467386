/**
 * Branching (t.branch) with Airflow's meanings: the branch's direct downstream tasks it
 * does not follow are skipped whatever their trigger rule, skips then propagate by trigger
 * rules, a none_failed_min_one_success join still runs, and a clear keeps the choice.
 */
import { describe, expect, it } from 'vitest';
import { clearTaskInstances } from '../../src/state/clear.js';
import { nextEnd, taskStates, useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';

export const pick = dag({ id: 'pick', params: { path: { type: 'string', default: 'a' } } }, (t) => {
  const start = t.branch('start', async (ctx) => {
    switch (ctx.params.path) {
      case 'a': return a;
      case 'b': return ['b'];
      case 'both': return [a, 'b'];
      case 'bad': return ['a', 'join', 'nowhere'];
      default: return null;
    }
  });
  const a = t.task('a', async () => 'a ran');
  const b = t.task('b', async () => 'b ran');
  const b2 = t.task('b2', async () => 'b2 ran');
  const join = t.task('join', { triggerRule: 'none_failed_min_one_success' }, async () => 'joined');
  start.then([a, b]);
  b.then(b2);
  t.chain([a, b2], join);
});
`;

const setup = useEngine({ 'pick.ts': DAGS });

describe('branching', () => {
  it('follows the chosen path, skips the other (and what only it leads to), and runs the join', async () => {
    const { h } = setup();
    const run = await h.run('pick', { conf: { path: 'a' } });
    expect(run.state).toBe('success');
    expect(run.tasks.start).toMatchObject({ state: 'success', result: ['a'] });
    expect(run.tasks.a).toMatchObject({ state: 'success', result: 'a ran' });
    expect(run.tasks.b!.state).toBe('skipped');
    expect(run.tasks.b2!.state).toBe('skipped');
    expect(run.tasks.join).toMatchObject({ state: 'success', result: 'joined' });

    const other = await h.run('pick', { conf: { path: 'b' } });
    expect(other.tasks.a!.state).toBe('skipped');
    expect(other.tasks.b2!.state).toBe('success');
    expect(other.tasks.join!.state).toBe('success');

    const both = await h.run('pick', { conf: { path: 'both' } });
    expect(both.tasks.start!.result).toEqual(['a', 'b']);
    expect(Object.values(both.tasks).every((t) => t.state === 'success')).toBe(true);
    expect(h.errors).toEqual([]);
  });

  it('fails the branch, without a retry, when it names a task that is not directly downstream', async () => {
    const { h } = setup();
    const run = await h.run('pick', { conf: { path: 'bad' } });
    expect(run.state).toBe('failed');
    expect(run.tasks.start).toMatchObject({ state: 'failed', tryNumber: 1 });
    expect(run.tasks.start!.error).toBe(
      "branch 'start' returned 'join', 'nowhere', which are not direct downstream tasks of it; it may follow only 'a', 'b'",
    );
    expect(run.tasks.a!.state).toBe('upstream_failed');
    expect(run.tasks.join!.state).toBe('upstream_failed');
  });

  it('skips every downstream task when the branch follows none', async () => {
    const { h } = setup();
    const run = await h.run('pick', { conf: { path: 'none' } });
    expect(run.state).toBe('success');
    expect(run.tasks.start).toMatchObject({ state: 'success', result: [] });
    for (const id of ['a', 'b', 'b2', 'join']) expect(run.tasks[id]!.state, id).toBe('skipped');
  });

  it('keeps the stored choice when tasks after the branch are cleared', async () => {
    const { h, database } = setup();
    const first = await h.run('pick', { conf: { path: 'a' } });
    const ended = nextEnd(h, first.id);
    const cleared = await clearTaskInstances(database.db, 'pick', {
      runId: first.runId,
      taskIds: ['b', 'a'],
      downstream: true,
      actor: 'test',
    });
    expect(cleared.runs[0]!.tasks.map((t) => t.taskId)).toEqual(['a', 'b', 'b2', 'join']);
    expect(await ended).toBe('success');
    const tasks = await taskStates(database, first.id);
    // Without the branch's choice, b would run: its only upstream (the branch) succeeded.
    expect(tasks.b!.state).toBe('skipped');
    expect(tasks.b2!.state).toBe('skipped');
    expect(tasks.a).toMatchObject({ state: 'success', tryNumber: 2 });
    expect(tasks.join).toMatchObject({ state: 'success', tryNumber: 2 });
    expect(tasks.start).toMatchObject({ state: 'success', tryNumber: 1 });
  });
});
