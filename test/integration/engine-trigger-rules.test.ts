/**
 * Trigger rules and run states end to end: DAG files in a folder, a real engine, manual
 * runs; what a user sees afterwards in the task instances and the run.
 */
import { eq } from 'drizzle-orm';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { dagRuns } from '../../src/db/schema.js';
import { testRun } from '../../src/engine/test-run.js';
import { taskStates, useEngine, type FinishedRun } from '../support/engine.js';

const DAGS = `import { dag, SkipTask } from 'updraft';

export const propagate_failure = dag({ id: 'propagate_failure' }, (t) => {
  const extract = t.task('extract', async () => { throw new Error('source down'); });
  const transform = t.task('transform', async () => 1);
  const load = t.task('load', async () => 2);
  const cleanup = t.task('cleanup', { triggerRule: 'all_done' }, async () => 'cleaned');
  extract.then(transform).then(load).then(cleanup);
});

export const propagate_skip = dag({ id: 'propagate_skip' }, (t) => {
  const check = t.task('check', async () => { throw new SkipTask('no new data'); });
  const transform = t.task('transform', async () => 1);
  const load = t.task('load', async () => 2);
  t.chain(check, transform, load);
});

export const failed_leaf = dag({ id: 'failed_leaf' }, (t) => {
  const extract = t.task('extract', async () => { throw new Error('source down'); });
  const load = t.task('load', async () => 1);
  const cleanup = t.task('cleanup', { triggerRule: 'all_done' }, async () => 'cleaned');
  extract.then([load, cleanup]);
});

// 'hold' says it holds, then runs until the test releases it on its DAG's channel, and fails.
const hold = (t: Parameters<Parameters<typeof dag>[1]>[0]) => t.task('hold', { timeout: '20s' }, (ctx) => new Promise<never>((_, reject) => {
  const channel = new BroadcastChannel('hold-' + ctx.dagId);
  channel.onmessage = (event) => {
    if (event.data !== 'release') return;
    channel.close();
    reject(new Error('released'));
  };
  channel.postMessage('holding');
}));

export const always_alone = dag({ id: 'always_alone' }, (t) => {
  hold(t).then(t.task('cleanup', { triggerRule: 'always' }, async () => 'cleaned'));
});

export const always_beside = dag({ id: 'always_beside' }, (t) => {
  hold(t).then([t.task('cleanup', { triggerRule: 'always' }, async () => 'cleaned'), t.task('report', async () => 'reported')]);
});

export const always_quick = dag({ id: 'always_quick' }, (t) => {
  t.task('first', async () => 1).then(t.task('cleanup', { triggerRule: 'always' }, async () => 'cleaned'));
});

export const rules = dag({ id: 'rules' }, (t) => {
  const ok = t.task('ok', async () => 'ok');
  const bad = t.task('bad', async () => { throw new Error('bad'); });
  const skip = t.task('skip', async () => { throw new SkipTask('nothing here'); });
  t.task('alert', { triggerRule: 'one_failed' }, async () => 'alerted').after(ok, bad);
  t.task('quiet', { triggerRule: 'one_failed' }, async () => 'alerted').after(ok);
  t.task('join', { triggerRule: 'none_failed_min_one_success' }, async () => 'joined').after(ok, skip);
  t.task('join_skipped', { triggerRule: 'none_failed_min_one_success' }, async () => 'joined').after(skip);
  t.task('recover', { triggerRule: 'all_failed' }, async () => 'recovered').after(bad);
  t.task('no_recover', { triggerRule: 'all_failed' }, async () => 'recovered').after(ok, bad);
});
`;

const setup = useEngine({ 'rules.ts': DAGS });

/** state and tries of every task: tries 0 means the task never ran. */
function summary(run: FinishedRun): Record<string, [string | null, number]> {
  return Object.fromEntries(Object.entries(run.tasks).map(([id, t]) => [id, [t.state, t.tryNumber]]));
}

describe('trigger rules, end to end', () => {
  it('propagates a failure as upstream_failed down an all_success chain; an all_done cleanup leaf still runs and the run succeeds', async () => {
    const { h } = setup();
    const run = await h.run('propagate_failure');
    expect(summary(run)).toEqual({
      extract: ['failed', 1],
      transform: ['upstream_failed', 0],
      load: ['upstream_failed', 0],
      cleanup: ['success', 1],
    });
    expect(run.tasks.extract!.error).toBe('source down');
    expect(run.tasks.cleanup!.result).toBe('cleaned');
    expect(run.tasks.cleanup!.startedAt!.getTime()).toBeGreaterThanOrEqual(run.tasks.extract!.endedAt!.getTime());
    // The only leaf succeeded: the failure was handled, as Airflow sees it.
    expect(run.state).toBe('success');
  });

  it('propagates a SkipTask as skipped down the chain; a run of skipped leaves succeeds', async () => {
    const { h } = setup();
    const run = await h.run('propagate_skip');
    expect(summary(run)).toEqual({ check: ['skipped', 1], transform: ['skipped', 0], load: ['skipped', 0] });
    expect(run.state).toBe('success');
  });

  it('fails the run when a leaf ends upstream_failed, even though the cleanup ran', async () => {
    const { h } = setup();
    const run = await h.run('failed_leaf');
    expect(summary(run)).toEqual({ extract: ['failed', 1], load: ['upstream_failed', 0], cleanup: ['success', 1] });
    expect(run.tasks.cleanup!.startedAt!.getTime()).toBeGreaterThanOrEqual(run.tasks.extract!.endedAt!.getTime());
    expect(run.state).toBe('failed');
  });

  it('runs or skips one_failed, none_failed_min_one_success and all_failed tasks by their upstream states', async () => {
    const { h } = setup();
    const run = await h.run('rules');
    expect(summary(run)).toEqual({
      ok: ['success', 1],
      bad: ['failed', 1],
      skip: ['skipped', 1],
      alert: ['success', 1], // one_failed: bad failed
      quiet: ['skipped', 0], // one_failed: nothing failed
      join: ['success', 1], // none_failed_min_one_success: ok succeeded, skip skipped
      join_skipped: ['skipped', 0], // none_failed_min_one_success: every upstream skipped
      recover: ['success', 1], // all_failed: bad failed
      no_recover: ['skipped', 0], // all_failed: ok succeeded
    });
    // Every leaf ended success or skipped; the failure of 'bad' was handled.
    expect(run.state).toBe('success');
    expect(h.errors).toEqual([]);
  });

  it.each([
    ['always_alone', 'success', { hold: ['failed', 1], cleanup: ['success', 1] }],
    ['always_beside', 'failed', { hold: ['failed', 1], cleanup: ['success', 1], report: ['upstream_failed', 0] }],
  ] as const)(
    '%s: an always task runs and ends while its upstream still runs; the run then ends %s by its leaves',
    async (dagId, end, tasks) => {
      const { h, database } = setup();
      // Listening before the run exists: neither message nor event can come too early.
      const channel = new BroadcastChannel(`hold-${dagId}`);
      try {
        const holding = new Promise<void>((resolve) => {
          channel.onmessage = (event) => event.data === 'holding' && resolve();
        });
        let id = '';
        const cleaned = h.next(
          'task:state',
          (e) => e.runRowId === id && e.taskId === 'cleanup' && e.state === 'success',
        );
        const run = await h.trigger(dagId);
        id = run.id;
        await Promise.all([holding, cleaned]);
        // The upstream has not finished (it waits for the release; the executor may not have
        // written 'running' yet), and neither has the run.
        const mid = await taskStates(database, id);
        expect(['queued', 'running']).toContain(mid.hold!.state);
        expect(mid.hold!.endedAt).toBeNull();
        expect(mid.cleanup!.result).toBe('cleaned');
        const [row] = await database.db.select({ state: dagRuns.state }).from(dagRuns).where(eq(dagRuns.id, id));
        expect(row!.state).toBe('running');
        channel.postMessage('release');
        const ended = await run.finished;
        expect(summary(ended)).toEqual(tasks);
        expect(ended.tasks.cleanup!.endedAt!.getTime()).toBeLessThan(ended.tasks.hold!.endedAt!.getTime());
        expect(ended.state).toBe(end);
      } finally {
        // A failed assertion must not leave the thread held for the next test.
        channel.postMessage('release');
        channel.close();
      }
    },
  );

  it('dags test schedules an always task with the roots, and says so first', async () => {
    const { h, database } = setup();
    const seen: string[] = [];
    const report = await testRun(database, h.engine.config, 'always_quick', {
      log: pino({ level: 'silent' }),
      onTaskState: (e) => seen.push(`${e.taskId} ${e.state}`),
    });
    expect(report.state).toBe('success');
    expect(seen.slice(0, 2)).toEqual(['first scheduled', 'cleanup scheduled']);
  });
});
