/**
 * What a person does to runs, end to end on a running engine: clearing task instances
 * (they run again, with their try history kept), marking runs success or failed, and
 * cancelling a run (its running try is aborted through ctx.signal). Every action lands
 * in the audit log. Waits are on the engine's events, never on sleeps.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { clearTaskInstances } from '../../src/state/clear.js';
import { cancelRun, markRun } from '../../src/state/mark.js';
import { auditLog, dagRuns } from '../../src/db/schema.js';
import { NotFoundError, UpdraftError } from '../../src/errors.js';
import { triggerRun } from '../../src/scheduler/runs.js';
import { taskLog, taskStates, useEngine, type TestEngine } from '../support/engine.js';

const DAGS = `import { existsSync } from 'node:fs';
import { dag } from 'updraft';

// 'extract' fails its first try: a run fails, and succeeds once cleared.
export const chain = dag({ id: 'chain' }, (t) => {
  const extract = t.task('extract', async (ctx) => {
    ctx.log.info('extract, try ' + ctx.tryNumber);
    if (ctx.tryNumber === 1) throw new Error('source not ready on try 1');
    return { rows: 3 };
  });
  const transform = t.task('transform', async (ctx) => (await ctx.pull(extract)).rows * 2);
  const load = t.task('load', async (ctx) => ({ loaded: await ctx.pull(transform) }));
  extract.then(transform).then(load);
});

export const fan = dag({ id: 'fan' }, (t) => {
  const good = t.task('good', async (ctx) => ctx.tryNumber);
  const bad = t.task('bad', async (ctx) => {
    if (ctx.tryNumber === 1) throw new Error('bad on try 1');
    return ctx.tryNumber;
  });
  const report = t.task('report', async (ctx) => ({ good: await ctx.pull(good), bad: await ctx.pull(bad) }));
  good.then(report);
  bad.then(report);
});

// 'hold' runs until the file conf.gate exists, while 'flaky' fails its first try.
export const gated = dag({ id: 'gated' }, (t) => {
  t.task('hold', async (ctx) => {
    while (!existsSync(String(ctx.conf.gate))) await new Promise((r) => setTimeout(r, 20));
    return 'released';
  });
  t.task('flaky', async (ctx) => {
    if (ctx.tryNumber === 1) throw new Error('flaky on try 1');
    return ctx.tryNumber;
  });
});

// 'wait' ends only when its signal is aborted.
export const waits = dag({ id: 'waits' }, (t) => {
  const wait = t.task('wait', { retries: 2 }, async (ctx) => {
    await new Promise((_, reject) =>
      ctx.signal.addEventListener('abort', () => {
        ctx.log.info('signal aborted: ' + (ctx.signal.reason as Error).message);
        reject(ctx.signal.reason);
      }),
    );
  });
  const after = t.task('after', async () => 'never');
  wait.then(after);
});
`;

// A fast heartbeat: that is when an executor notices that a try was taken from it.
const setup = useEngine({ 'actions.ts': DAGS }, { env: { UPDRAFT_HEARTBEAT_INTERVAL: '200ms' } });

/** The next end of run `id` (a cleared run ends again: the harness's `finished` reports only its first end). */
function nextEnd(h: TestEngine, id: string, timeoutMs = 20_000): Promise<'success' | 'failed'> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      h.engine.bus.off('run:finished', listener);
      reject(new Error(`run ${id} did not end again within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (run: { runRowId: string; state: 'success' | 'failed' }) => {
      if (run.runRowId !== id) return;
      clearTimeout(timer);
      h.engine.bus.off('run:finished', listener);
      resolve(run.state);
    };
    h.engine.bus.on('run:finished', listener);
  });
}

async function runRow(id: string) {
  const [row] = await setup().database.db.select().from(dagRuns).where(eq(dagRuns.id, id));
  return row!;
}

async function audit(action: string, runId: string) {
  return setup()
    .database.db.select()
    .from(auditLog)
    .where(and(eq(auditLog.action, action), eq(auditLog.runId, runId)));
}

/** A run of 'waits' whose 'wait' task is running: started without the harness, whose `finished` would wait for an event these runs never send. */
async function runningWait(h: TestEngine): Promise<{ id: string; runId: string }> {
  const { database } = setup();
  const running = h.next('task:state', (e) => e.taskId === 'wait' && e.state === 'running');
  const run = await triggerRun(database.db, 'waits', { actor: 'test' });
  expect(await running).toMatchObject({ runRowId: run.id });
  return { id: run.id, runId: run.runId };
}

describe('clear', () => {
  it('runs a cleared failed task again with its next try; its downstream keeps its state unless cleared too', async () => {
    const { h, database } = setup();
    const first = await h.run('chain');
    expect(first.state).toBe('failed');
    expect(first.tasks).toMatchObject({
      extract: { state: 'failed', tryNumber: 1 },
      transform: { state: 'upstream_failed', tryNumber: 0 },
      load: { state: 'upstream_failed', tryNumber: 0 },
    });

    const ended = nextEnd(h, first.id);
    const result = await clearTaskInstances(database.db, 'chain', {
      runId: first.runId,
      taskRegex: '^extract$',
      actor: 'test',
    });
    expect(result).toEqual({
      dagId: 'chain',
      dryRun: false,
      count: 1,
      runs: [
        {
          runId: first.runId,
          logicalDate: expect.any(Date),
          state: 'failed',
          tasks: [{ taskId: 'extract', state: 'failed', tryNumber: 1 }],
        },
      ],
    });
    // Airflow: the run is queued again, and its end is derived again from its leaves.
    expect(await ended).toBe('failed');
    const tasks = await taskStates(database, first.id);
    expect(tasks.extract).toMatchObject({ state: 'success', tryNumber: 2, error: null, result: { rows: 3 } });
    expect(tasks.transform).toMatchObject({ state: 'upstream_failed', tryNumber: 0 });
    // The try history is kept: try 1's log, then try 2's.
    const log = await taskLog(database, first.id, 'extract');
    expect(log.filter((l) => l.level === 'info').map((l) => `${l.tryNumber} ${l.message}`)).toEqual([
      '1 extract, try 1',
      '2 extract, try 2',
    ]);
    expect(log.some((l) => l.tryNumber === 1 && l.message.startsWith('Error: source not ready on try 1'))).toBe(true);

    const [row] = await audit('task.clear', first.runId);
    expect(row).toMatchObject({
      actor: 'test',
      dagId: 'chain',
      taskId: 'extract',
      details: { count: 1, runs: { [first.runId]: ['extract'] } },
    });
    expect(h.errors).toEqual([]);
  });

  it('with downstream, clears and runs again the tasks downstream of the match, and the run succeeds', async () => {
    const { h, database } = setup();
    const first = await h.run('chain');
    expect(first.state).toBe('failed');

    const ended = nextEnd(h, first.id);
    const result = await clearTaskInstances(database.db, 'chain', {
      runId: first.runId,
      taskIds: ['extract'],
      downstream: true,
      actor: 'test',
    });
    expect(result.runs[0]!.tasks.map((t) => t.taskId)).toEqual(['extract', 'transform', 'load']);
    expect(await ended).toBe('success');
    expect(await taskStates(database, first.id)).toMatchObject({
      extract: { state: 'success', tryNumber: 2 },
      transform: { state: 'success', tryNumber: 1, result: 6 },
      load: { state: 'success', tryNumber: 1, result: { loaded: 6 } },
    });
    const run = await runRow(first.id);
    expect(run.state).toBe('success');
    expect(run.endedAt).not.toBeNull();
  });

  it('with upstream, clears the tasks upstream of the match too; a dry run lists them and changes nothing', async () => {
    const { h, database } = setup();
    const first = await h.run('chain');
    const before = await taskStates(database, first.id);

    const dry = await clearTaskInstances(database.db, 'chain', {
      runId: 'latest',
      taskRegex: 'load',
      upstream: true,
      dryRun: true,
      actor: 'test',
    });
    expect(dry).toMatchObject({ dryRun: true, count: 3, runs: [{ runId: first.runId, state: 'failed' }] });
    expect(dry.runs[0]!.tasks.map((t) => `${t.taskId} ${t.state}`)).toEqual([
      'extract failed',
      'transform upstream_failed',
      'load upstream_failed',
    ]);
    expect(await taskStates(database, first.id)).toEqual(before);
    expect((await runRow(first.id)).state).toBe('failed');
    expect(await audit('task.clear', first.runId)).toEqual([]);

    const ended = nextEnd(h, first.id);
    await clearTaskInstances(database.db, 'chain', {
      runId: 'latest',
      taskRegex: 'load',
      upstream: true,
      actor: 'test',
    });
    expect(await ended).toBe('success');
  });

  it('with only-failed, clears only failed and upstream_failed task instances', async () => {
    const { h, database } = setup();
    const first = await h.run('fan');
    expect(first.state).toBe('failed');
    expect(first.tasks).toMatchObject({
      good: { state: 'success' },
      bad: { state: 'failed' },
      report: { state: 'upstream_failed' },
    });

    const ended = nextEnd(h, first.id);
    const result = await clearTaskInstances(database.db, 'fan', {
      runId: first.runId,
      onlyFailed: true,
      actor: 'test',
    });
    expect(result.runs[0]!.tasks.map((t) => t.taskId).sort()).toEqual(['bad', 'report']);
    expect(await ended).toBe('success');
    expect(await taskStates(database, first.id)).toMatchObject({
      good: { state: 'success', tryNumber: 1, result: 1 },
      bad: { state: 'success', tryNumber: 2, result: 2 },
      report: { state: 'success', tryNumber: 1, result: { good: 1, bad: 2 } },
    });
  });

  it('in a running run, runs a cleared task again at once, and refuses to clear a running one', async () => {
    const { h, database, folder } = setup();
    const gate = path.join(folder.path, 'gated.gate');
    const flakyFailed = h.next('task:state', (e) => e.taskId === 'flaky' && e.state === 'failed');
    const holding = h.next('task:state', (e) => e.taskId === 'hold' && e.state === 'running');
    const { id, finished } = await h.trigger('gated', { conf: { gate } });
    await Promise.all([flakyFailed, holding]);
    const { runId } = await runRow(id);

    const refused = clearTaskInstances(database.db, 'gated', { runId, actor: 'test' });
    await expect(refused).rejects.toThrow(UpdraftError);
    // 'running' on the bus comes a moment before the row says so: either is refused.
    await expect(refused).rejects.toThrow(
      new RegExp(
        `^cannot clear task instances that are queued or running: ${runId.replace(/[.+]/g, '\\$&')} hold \\((queued|running)\\); wait for them to end, or cancel their run`,
      ),
    );

    const retried = h.next('task:state', (e) => e.runRowId === id && e.taskId === 'flaky' && e.state === 'success');
    await clearTaskInstances(database.db, 'gated', { runId, taskIds: ['flaky'], actor: 'test' });
    await retried;
    expect((await runRow(id)).state).toBe('running');
    expect(existsSync(gate)).toBe(false);
    await writeFile(gate, '');
    const run = await finished;
    expect(run.state).toBe('success');
    expect(run.tasks).toMatchObject({
      hold: { state: 'success', tryNumber: 1 },
      flaky: { state: 'success', tryNumber: 2, result: 2 },
    });
  });

  it('needs a run or a date range, and names an unknown DAG, run or task', async () => {
    const { database } = setup();
    await expect(clearTaskInstances(database.db, 'chain', { actor: 'test' })).rejects.toThrow(
      /needs a run or a range of logical dates \(--run, --from, --to\)/,
    );
    await expect(clearTaskInstances(database.db, 'nope', { runId: 'latest', actor: 'test' })).rejects.toThrow(
      new NotFoundError("no DAG with id 'nope' (see 'updraft dags list')"),
    );
    await expect(clearTaskInstances(database.db, 'chain', { runId: 'manual__1999', actor: 'test' })).rejects.toThrow(
      /DAG 'chain' has no run 'manual__1999'/,
    );
    await expect(
      clearTaskInstances(database.db, 'chain', { runId: 'latest', taskIds: ['extrakt'], actor: 'test' }),
    ).rejects.toThrow("DAG 'chain' has no task 'extrakt'");
    await expect(
      clearTaskInstances(database.db, 'chain', { runId: 'latest', taskRegex: '(', actor: 'test' }),
    ).rejects.toThrow(/not a valid regular expression/);
    // A date range without runs clears nothing.
    expect(
      await clearTaskInstances(database.db, 'chain', {
        from: new Date('1990-01-01'),
        to: new Date('1990-12-31'),
        actor: 'test',
      }),
    ).toMatchObject({ count: 0, runs: [] });
  });
});

describe('mark and cancel', () => {
  it('marks a failed run success: its failed and upstream_failed tasks become success', async () => {
    const { h, database } = setup();
    const first = await h.run('chain');
    expect(first.state).toBe('failed');
    const change = await markRun(database.db, 'chain', first.runId, 'success', { actor: 'test' });
    expect(change).toEqual({
      dagId: 'chain',
      runId: first.runId,
      previous: 'failed',
      state: 'success',
      tasks: expect.arrayContaining([
        { taskId: 'extract', from: 'failed', to: 'success', stopped: false },
        { taskId: 'transform', from: 'upstream_failed', to: 'success', stopped: false },
        { taskId: 'load', from: 'upstream_failed', to: 'success', stopped: false },
      ]),
    });
    expect((await runRow(first.id)).state).toBe('success');
    expect(await taskStates(database, first.id)).toMatchObject({
      extract: { state: 'success', tryNumber: 1, error: null },
    });
    expect(await audit('run.mark_success', first.runId)).toMatchObject([
      { actor: 'test', dagId: 'chain', details: { previous: 'failed', tasks: { success: expect.any(Array) } } },
    ]);

    // And back: an ended run marked failed keeps its finished tasks.
    const back = await markRun(database.db, 'chain', 'latest', 'failed', { actor: 'test' });
    expect(back).toMatchObject({ runId: first.runId, previous: 'success', state: 'failed', tasks: [] });
  });

  it('cancels a running run: the running try is aborted through its signal, the rest is skipped, the run fails', async () => {
    const { h, database } = setup();
    const { id, runId } = await runningWait(h);
    const refused = h.next('task:refused', (e) => e.runRowId === id);

    const change = await cancelRun(database.db, 'waits', runId, { actor: 'test' });
    expect(change).toEqual({
      dagId: 'waits',
      runId,
      previous: 'running',
      state: 'failed',
      tasks: expect.arrayContaining([
        // 'running' on the bus comes a moment before the row says so: a claimed try is stopped either way.
        { taskId: 'wait', from: expect.stringMatching(/^(queued|running)$/), to: 'failed', stopped: true },
        { taskId: 'after', from: null, to: 'skipped', stopped: false },
      ]),
    });
    expect(change.tasks).toHaveLength(2);
    const run = await runRow(id);
    expect(run.state).toBe('failed');
    expect(run.endedAt).not.toBeNull();

    // The executor notices at its next heartbeat; the try's own result is refused.
    expect(await refused).toEqual({ runRowId: id, taskId: 'wait', tryNumber: 1 });
    expect(await taskStates(database, id)).toMatchObject({
      wait: { state: 'failed', tryNumber: 1, error: 'cancelled: the run was cancelled by test' },
      after: { state: 'skipped', tryNumber: 0 },
    });
    const lines = (await taskLog(database, id, 'wait')).map((l) => `${l.tryNumber} ${l.level}: ${l.message}`);
    expect(lines).toEqual([
      '1 info: signal aborted: cancelled: the run was cancelled by test',
      '1 error: cancelled: the run was cancelled by test',
      '1 warn: result of try 1 (failed) refused: this try no longer owns the task instance',
    ]);
    expect(await audit('run.cancel', runId)).toMatchObject([
      {
        actor: 'test',
        dagId: 'waits',
        details: { previous: 'running', stopped: ['wait'], tasks: { failed: ['wait'], skipped: ['after'] } },
      },
    ]);

    // Once ended, a run cannot be cancelled again.
    await expect(cancelRun(database.db, 'waits', runId, { actor: 'test' })).rejects.toThrow(
      `run '${runId}' of DAG 'waits' has already ended (failed)`,
    );
    expect(h.errors).toEqual([]);
  });

  it('marks a running run failed or success, stopping its running try either way', async () => {
    const { h, database } = setup();
    const failedRun = await runningWait(h);
    const refused = h.next('task:refused', (e) => e.runRowId === failedRun.id);
    await markRun(database.db, 'waits', failedRun.runId, 'failed', { actor: 'test' });
    await refused;
    expect(await taskStates(database, failedRun.id)).toMatchObject({
      wait: { state: 'failed', error: 'cancelled: the run was marked failed by test' },
      after: { state: 'skipped' },
    });

    const successRun = await runningWait(h);
    const refusedToo = h.next('task:refused', (e) => e.runRowId === successRun.id);
    await markRun(database.db, 'waits', successRun.runId, 'success', { actor: 'test' });
    await refusedToo;
    expect(await taskStates(database, successRun.id)).toMatchObject({
      wait: { state: 'success', error: null },
      after: { state: 'success' },
    });
    expect((await runRow(successRun.id)).state).toBe('success');
    const lines = (await taskLog(database, successRun.id, 'wait')).map((l) => l.message);
    expect(lines).toContain('cancelled: its task instance was set to success from outside');
    expect(await audit('run.mark_failed', failedRun.runId)).toHaveLength(1);
    expect(await audit('run.mark_success', successRun.runId)).toHaveLength(1);
  });

  it('names an unknown DAG or run', async () => {
    const { database } = setup();
    await expect(markRun(database.db, 'nope', 'latest', 'success', { actor: 'test' })).rejects.toThrow(
      new NotFoundError("no DAG with id 'nope' (see 'updraft dags list')"),
    );
    await expect(cancelRun(database.db, 'waits', 'manual__1999', { actor: 'test' })).rejects.toThrow(
      new NotFoundError("DAG 'waits' has no run 'manual__1999' (see 'updraft runs list waits')"),
    );
  });
});
