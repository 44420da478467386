/**
 * Task and run callbacks end to end (docs/callbacks.md): DAG files whose callbacks write
 * to a temporary folder named in their source, so each test sees that a callback ran, how
 * often, and what it was told; the task's log shows the callback's own lines and its
 * failures; a callback that throws or hangs never changes a state.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRuns } from '../../src/catalog/runs.js';
import { and } from 'drizzle-orm';
import { callbackRequests, dagRuns, taskInstances } from '../../src/db/schema.js';
import type { EngineEvents } from '../../src/state/bus.js';
import { Hono } from 'hono';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { runPages } from '../../src/web/ui/pages/runs.js';
import { taskLog, useEngine } from '../support/engine.js';
import { uiClient, uiSessions, type Session } from '../support/ui.js';

const OUT = mkdtempSync(path.join(os.tmpdir(), 'updraft-callbacks-'));

const DAGS = `import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { dag, FailTask } from 'updraft';

const OUT = ${JSON.stringify(OUT)};
const note = (name, data) => appendFileSync(join(OUT, name), JSON.stringify(data) + '\\n');

export const succeeds = dag({
  id: 'cb_success',
  onSuccess: (ctx, info) => note('cb_success.run', { ...info, dagId: ctx.dagId, runId: ctx.runId, logicalDate: ctx.logicalDate, conf: ctx.conf }),
  onFailure: () => note('cb_success.run-failure', {}),
}, (t) => {
  t.task('extract', {
    onSuccess: async (ctx, info) => {
      ctx.log.info('extract succeeded on try %d', info.tryNumber);
      console.log('printed by the callback');
      note('cb_success.extract', { ...info, taskId: ctx.taskId, runId: ctx.runId, params: ctx.params });
    },
    onFailure: () => note('cb_success.extract-failure', {}),
  }, async () => ({ rows: 3 }));
});

export const retries = dag({ id: 'cb_retry' }, (t) => {
  t.task('flaky', {
    retries: 1,
    retryDelay: '100ms',
    onRetry: (ctx, info) => note('cb_retry.retry', { ...info, ctxTry: ctx.tryNumber }),
    onFailure: (ctx, info) => note('cb_retry.failure', info),
    onSuccess: () => note('cb_retry.success', {}),
  }, async (ctx) => {
    throw new Error('boom on try ' + ctx.tryNumber);
  });
});

export const throws = dag({ id: 'cb_throws', onFailure: () => { throw new Error('run callback exploded'); } }, (t) => {
  t.task('ok', { onSuccess: () => { throw new Error('callback exploded'); } }, async () => 1);
  t.task('bad', {
    onFailure: async () => {
      await Promise.resolve();
      throw new TypeError('failure callback exploded');
    },
  }, async () => {
    throw new FailTask('bad input');
  });
});

export const hangs = dag({ id: 'cb_hang' }, (t) => {
  t.task('ok', {
    timeout: '1s',
    onSuccess: () => {
      for (;;) {
        // never yields: only ending the thread stops it
      }
    },
  }, async () => 'done');
});

// 'held' runs until the test lets it go: the reaper fails it first, as if its worker had died.
export const lost = dag({ id: 'cb_lost', onFailure: (ctx, info) => note('cb_lost.run', info) }, (t) => {
  t.task('held', { onFailure: (ctx, info) => note('cb_lost.held', info) }, async () => {
    while (!existsSync(join(OUT, 'release'))) await new Promise((r) => setTimeout(r, 25));
    return 'too late';
  });
});

export const defaults = dag({
  id: 'cb_defaults',
  defaults: {
    onSuccess: (ctx) => note('cb_defaults.success', { task: ctx.taskId }),
    onFailure: (ctx, info) => note('cb_defaults.failure', { task: ctx.taskId, error: info.error }),
  },
  onFailure: (ctx, info) => note('cb_defaults.run', { ...info, runId: ctx.runId }),
}, (t) => {
  const a = t.task('a', async () => 1);
  const b = t.task('b', async () => {
    throw new FailTask('b cannot');
  });
  const d = t.task('d', async () => 4);
  t.task('c', { onSuccess: (ctx) => note('cb_defaults.own', { task: ctx.taskId }) }, async () => 3);
  a.then(b).then(d);
});
`;

type Ended = EngineEvents['callback:ended'][0];

const setup = useEngine({ 'callbacks.ts': DAGS });
const ended: Ended[] = [];
const waiters = new Set<() => void>();
let app: Hono;
let viewer: Session;
const ui = uiClient(() => app);

beforeAll(async () => {
  const { h, database } = setup();
  app = new Hono();
  app.use('*', authenticate(database.db, authOptions(h.engine.config)));
  app.route('/', runPages(h.engine));
  viewer = (await uiSessions(database.db, 'cb')).viewer!;
  h.engine.bus.on('callback:ended', (event) => {
    ended.push(event);
    for (const wake of waiters) wake();
  });
});
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

/** The callbacks that ended for a run, once there are `count` of them (the engine tells when each ends). */
async function callbacksOf(runRowId: string, count: number): Promise<Ended[]> {
  const mine = () => ended.filter((e) => e.runRowId === runRowId);
  if (mine().length < count) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(`only ${mine().length} of ${count} callbacks ended for run ${runRowId}: ${JSON.stringify(mine())}`),
        );
      }, 20_000);
      const check = () => {
        if (mine().length < count) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  }
  return mine();
}

/** What the callbacks wrote to `name`, one JSON value per call. */
function notes(name: string): any[] {
  const file = path.join(OUT, name);
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
    : [];
}

describe('task callbacks', () => {
  it('runs onSuccess after a success, with the task context; its output is in the task log', async () => {
    const { h, database } = setup();
    const run = await h.run('cb_success', { conf: { region: 'eu' } });
    expect(run.tasks.extract).toMatchObject({ state: 'success', result: { rows: 3 } });
    const events = await callbacksOf(run.id, 2);
    expect(events.map((e) => `${e.taskId ?? 'run'} ${e.callback} ${e.error ?? 'ok'}`).sort()).toEqual([
      'extract onSuccess ok',
      'run onSuccess ok',
    ]);

    expect(notes('cb_success.extract')).toEqual([
      { state: 'success', tryNumber: 1, maxTries: 1, taskId: 'extract', runId: run.runId, params: {} },
    ]);
    expect(notes('cb_success.extract-failure')).toEqual([]);
    const log = await taskLog(database, run.id, 'extract');
    expect(log.map((l) => `${l.tryNumber} ${l.level}: ${l.message}`)).toEqual([
      '1 info: running the onSuccess callback',
      '1 info: extract succeeded on try 1',
      '1 info: printed by the callback',
    ]);
  });

  it('runs onRetry after a failed try with retries left, and onFailure after the last try', async () => {
    const { h, database } = setup();
    const run = await h.run('cb_retry');
    expect(run.tasks.flaky).toMatchObject({ state: 'failed', tryNumber: 2, error: 'boom on try 2' });
    await callbacksOf(run.id, 2);

    const [retry, ...moreRetries] = notes('cb_retry.retry');
    expect(moreRetries).toEqual([]);
    expect(retry).toMatchObject({
      state: 'up_for_retry',
      error: 'boom on try 1',
      tryNumber: 1,
      maxTries: 2,
      ctxTry: 1,
    });
    // The next try's time as the executor decided it: the task's 100 ms retry delay after try 1 ended.
    const log = await taskLog(database, run.id, 'flaky');
    const retryLine = log.find((l) => l.tryNumber === 1 && l.message.includes('retrying at'))!;
    expect(retry.nextTryAt).toBe(retryLine.message.split('retrying at ')[1]);
    expect(notes('cb_retry.failure')).toEqual([{ state: 'failed', error: 'boom on try 2', tryNumber: 2, maxTries: 2 }]);
    expect(notes('cb_retry.success')).toEqual([]);
    // Each callback logs under the try it is about.
    expect(log.filter((l) => l.message.startsWith('running the')).map((l) => `${l.tryNumber} ${l.message}`)).toEqual([
      '1 running the onRetry callback',
      '2 running the onFailure callback',
    ]);
  });

  it('logs a callback that throws in the task log and the process log; the task keeps its state', async () => {
    const { h, database } = setup();
    const errorsBefore = h.errors.length;
    const run = await h.run('cb_throws');
    expect(run.state).toBe('failed');
    expect(run.tasks.ok).toMatchObject({ state: 'success', result: 1, error: null });
    expect(run.tasks.bad).toMatchObject({ state: 'failed', error: 'bad input' });
    const events = await callbacksOf(run.id, 3);
    expect(events.map((e) => `${e.taskId ?? 'run'} ${e.callback}: ${e.error}`).sort()).toEqual([
      'bad onFailure: TypeError: failure callback exploded',
      'ok onSuccess: callback exploded',
      'run onFailure: run callback exploded',
    ]);

    const okLog = await taskLog(database, run.id, 'ok');
    const failure = okLog.find((l) => l.level === 'error')!;
    expect(failure.message).toMatch(
      /^onSuccess callback failed: callback exploded \(the task stays success\)\nError: callback exploded\n\s+at /,
    );
    const badLog = await taskLog(database, run.id, 'bad');
    expect(
      badLog.some(
        (l) =>
          l.level === 'error' &&
          l.message.startsWith(
            'onFailure callback failed: TypeError: failure callback exploded (the task stays failed)',
          ),
      ),
    ).toBe(true);
    // The process log (the engine's 'error' events) names the task, the run and the callback.
    const logged = h.errors.slice(errorsBefore).map((e) => e.message);
    expect(logged).toContain(
      `cb_throws.ok (run ${run.runId}, try 1): onSuccess callback failed: callback exploded (the task stays success)`,
    );
    expect(logged).toContain(`cb_throws run ${run.runId}: onFailure callback failed: run callback exploded`);
    h.errors.splice(errorsBefore);

    // The run callback's failure is kept with the run, for its page and `runs list`.
    const [row] = await database.db
      .select({ state: dagRuns.state, callbackError: dagRuns.callbackError })
      .from(dagRuns)
      .where(eq(dagRuns.id, run.id));
    expect(row).toEqual({ state: 'failed', callbackError: 'onFailure callback failed: run callback exploded' });
    const listed = await listRuns(database.db, 'cb_throws', { limit: 5 });
    expect(listed.runs[0]).toMatchObject({
      runId: run.runId,
      state: 'failed',
      callbackError: 'onFailure callback failed: run callback exploded',
    });

    // Where a user looks: the run page shows the run callback's failure, the task page the task's.
    const runUrl = `/ui/dags/cb_throws/runs/${encodeURIComponent(run.runId)}`;
    const page = await ui.get(runUrl, viewer);
    expect(page.status).toBe(200);
    expect(page.html).toMatch(
      /<th>Run callback<\/th>\s*<td class="error">onFailure callback failed: run callback exploded<\/td>/,
    );
    const taskPage = await ui.get(`${runUrl}/tasks/ok`, viewer);
    expect(taskPage.html).toContain('running the onSuccess callback');
    expect(taskPage.html).toContain('onSuccess callback failed: callback exploded (the task stays success)');
  });

  it('cuts off a callback that hangs at the task timeout, and the pool goes on', async () => {
    const { h, database } = setup();
    const errorsBefore = h.errors.length;
    const run = await h.run('cb_hang');
    expect(run.tasks.ok).toMatchObject({ state: 'success', result: 'done' });
    const [event] = await callbacksOf(run.id, 1);
    expect(event).toMatchObject({ taskId: 'ok', callback: 'onSuccess', error: 'timed out after 1s' });
    const log = await taskLog(database, run.id, 'ok');
    expect(log.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'onSuccess callback failed: timed out after 1s (the task stays success)',
    ]);
    h.errors.splice(errorsBefore);
    // The thread was replaced: the next run's tasks and callbacks run.
    const again = await h.run('cb_success');
    expect(again.state).toBe('success');
    await callbacksOf(again.id, 2);
  });
});

describe('DAG defaults and run callbacks', () => {
  it("applies the defaults' callbacks to every task (a task's own wins) and runs the DAG's onFailure once", async () => {
    const { h } = setup();
    const run = await h.run('cb_defaults');
    expect(run.state).toBe('failed');
    expect(Object.fromEntries(Object.entries(run.tasks).map(([id, t]) => [id, t.state]))).toEqual({
      a: 'success',
      b: 'failed',
      c: 'success',
      d: 'upstream_failed',
    });
    const events = await callbacksOf(run.id, 4);
    expect(events.map((e) => `${e.taskId ?? 'run'} ${e.callback}`).sort()).toEqual([
      'a onSuccess',
      'b onFailure',
      'c onSuccess',
      'run onFailure',
    ]);

    expect(notes('cb_defaults.success')).toEqual([{ task: 'a' }]);
    expect(notes('cb_defaults.failure')).toEqual([{ task: 'b', error: 'b cannot' }]);
    expect(notes('cb_defaults.own')).toEqual([{ task: 'c' }]);
    expect(notes('cb_defaults.run')).toEqual([{ state: 'failed', failedTasks: ['b'], runId: run.runId }]);
  });

  it("runs the DAG's onSuccess once per successful run, with the run's dates and conf", async () => {
    const { h } = setup();
    const before = notes('cb_success.run').length;
    const logicalDate = new Date('2026-03-04T05:06:07Z');
    const run = await h.run('cb_success', { conf: { batch: 7 }, logicalDate });
    await callbacksOf(run.id, 2);
    const mine = notes('cb_success.run').slice(before);
    expect(mine).toEqual([
      {
        state: 'success',
        failedTasks: [],
        dagId: 'cb_success',
        runId: run.runId,
        logicalDate: logicalDate.toISOString(),
        conf: { batch: 7 },
      },
    ]);
    expect(notes('cb_success.run-failure')).toEqual([]);
  });

  it('runs the callbacks of a task the reaper fails (its worker stopped heartbeating) from callback_requests', async () => {
    const { h, database } = setup();
    const running = h.next('task:state', (e) => e.taskId === 'held' && e.state === 'running');
    const { id, finished } = await h.trigger('cb_lost');
    await running;
    const held = and(eq(taskInstances.runId, id), eq(taskInstances.taskId, 'held'));
    // The row says running a moment after the event.
    for (let i = 0; i < 100; i++) {
      const [ti] = await database.db.select({ state: taskInstances.state }).from(taskInstances).where(held);
      if (ti?.state === 'running') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // As the reaper sees it, the try's worker is gone: another owner and lease (the live
    // worker's heartbeats go by lease), silent for an hour.
    await database.db
      .update(taskInstances)
      .set({ owner: 'dead-worker', lease: randomUUID(), heartbeatAt: new Date(Date.now() - 3_600_000) })
      .where(held);
    const run = await finished;
    expect(run.state).toBe('failed');
    expect(run.tasks.held!.state).toBe('failed');
    expect(run.tasks.held!.error).toMatch(/^no heartbeat from dead-worker for /);
    const events = await callbacksOf(id, 2);
    expect(events.map((e) => `${e.taskId ?? 'run'} ${e.callback} ${e.error ?? 'ok'}`).sort()).toEqual([
      'held onFailure ok',
      'run onFailure ok',
    ]);
    expect(notes('cb_lost.held')).toEqual([
      { state: 'failed', error: run.tasks.held!.error, tryNumber: 1, maxTries: 1 },
    ]);
    expect(notes('cb_lost.run')).toEqual([{ state: 'failed', failedTasks: ['held'] }]);
    const log = await taskLog(database, id, 'held');
    expect(log.some((l) => l.message === 'running the onFailure callback')).toBe(true);
    // Taken once: nothing is left queued.
    expect(await database.db.select().from(callbackRequests)).toEqual([]);
    writeFileSync(path.join(OUT, 'release'), '');
  });
});
