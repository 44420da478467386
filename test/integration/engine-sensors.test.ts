/**
 * Sensors end to end, with Airflow's meanings: a poke that becomes true after N pokes
 * (counted in a file named by the run's conf, not by the clock), the sensor timeout
 * (failed without retrying, or skipped with softFail, and what downstream tasks do),
 * and reschedule mode: the task goes up_for_reschedule between pokes, keeps try 1,
 * frees its worker thread, counts its timeout from the first poke, and a clear resets it.
 * One task thread for the whole file: a sensor holding it would starve the others.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { clearTaskInstances } from '../../src/state/clear.js';
import { dagRuns, taskInstances } from '../../src/db/schema.js';
import { runPages } from '../../src/web/ui/pages/runs.js';
import { taskLog, useEngine } from '../support/engine.js';
import { uiClient, uiSessions } from '../support/ui.js';

const DAGS = `import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { dag } from 'updraft';

/** Counts this task's pokes in <conf.dir>/<task id> and says whether 'after' pokes have been made. */
function pokes(ctx, after) {
  const file = path.join(ctx.conf.dir, ctx.taskId);
  const n = (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0) + 1;
  writeFileSync(file, String(n));
  return n >= after ? n : false;
}

export const poke_mode = dag({ id: 'poke_mode' }, (t) => {
  const wait = t.sensor('wait_for_rows', { interval: '50ms', timeout: '20s', poke: (ctx) => { const n = pokes(ctx, 3); return n && { rows: n }; } });
  const use = t.task('use', async (ctx) => ({ got: (await ctx.pull(wait)).rows }));
  wait.then(use);
});

export const times_out = dag({ id: 'times_out' }, (t) => {
  const wait = t.sensor('never', { interval: '50ms', timeout: '200ms', retries: 2, retryDelay: '50ms', poke: (ctx) => pokes(ctx, 1000) });
  wait.then(t.task('after', () => 'ran'));
});

export const soft = dag({ id: 'soft' }, (t) => {
  const wait = t.sensor('never', { interval: '50ms', timeout: '200ms', softFail: true, poke: (ctx) => pokes(ctx, 1000) });
  wait.then(t.task('after', () => 'ran'));
  wait.then(t.task('cleanup', { triggerRule: 'all_done' }, () => 'cleaned'));
});

// The producer can only run while the sensor does not hold the one task thread.
export const reschedule = dag({ id: 'reschedule' }, (t) => {
  t.sensor('wait_for_file', {
    mode: 'reschedule', interval: '100ms', timeout: '20s', priority: 10,
    poke: (ctx) => { pokes(ctx, 1); return existsSync(path.join(ctx.conf.dir, 'ready')) ? 'found' : false; },
  });
  t.task('producer', (ctx) => {
    // Claimed after the sensor (priority): it runs only once the sensor's first poke has let the thread go.
    if (!existsSync(path.join(ctx.conf.dir, 'wait_for_file'))) throw new Error('the sensor has not poked yet');
    writeFileSync(path.join(ctx.conf.dir, 'ready'), 'yes');
    return 'produced';
  });
});

export const reschedule_timeout = dag({ id: 'reschedule_timeout' }, (t) => {
  t.sensor('never', { mode: 'reschedule', interval: '100ms', timeout: '450ms', retries: 1, poke: (ctx) => pokes(ctx, 1000) });
});

export const clearable = dag({ id: 'clearable' }, (t) => {
  t.sensor('wait_for_file', { mode: 'reschedule', interval: '3s', timeout: '60s', poke: (ctx) => existsSync(path.join(ctx.conf.dir, 'ready')) });
});
`;

const setup = useEngine({ 'sensors.ts': DAGS }, { env: { UPDRAFT_CONCURRENCY: '1' } });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'updraft-sensor-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});
const pokeCount = async (taskId: string) => Number(await readFile(path.join(dir, taskId), 'utf8'));

describe('poke mode', () => {
  it('pokes until the condition is met and keeps what the poke returned as the XCom', async () => {
    const { h, database } = setup();
    const run = await h.run('poke_mode', { conf: { dir } });
    expect(run.state).toBe('success');
    expect(run.tasks.wait_for_rows).toMatchObject({ state: 'success', tryNumber: 1, result: { rows: 3 } });
    expect(run.tasks.use).toMatchObject({ state: 'success', result: { got: 3 } });
    expect(await pokeCount('wait_for_rows')).toBe(3);
    const log = (await taskLog(database, run.id, 'wait_for_rows')).map((l) => l.message);
    expect(log).toEqual([
      'poke 1: not yet; next poke in 50ms',
      'poke 2: not yet; next poke in 50ms',
      'poke 3: condition met',
    ]);
  });

  it('fails at the sensor timeout without retrying, and the downstream task is upstream_failed', async () => {
    const { h } = setup();
    const run = await h.run('times_out', { conf: { dir } });
    expect(run.state).toBe('failed');
    expect(run.tasks.never).toMatchObject({ state: 'failed', tryNumber: 1, error: 'sensor timed out after 200ms' });
    expect(run.tasks.after!.state).toBe('upstream_failed');
    // 200 ms at 50 ms a poke: about 5 pokes (the last at the timeout), in one try.
    expect(await pokeCount('never')).toBeGreaterThanOrEqual(4);
  });

  it('is skipped at the timeout with softFail; all_success downstream is skipped, all_done runs', async () => {
    const { h } = setup();
    const run = await h.run('soft', { conf: { dir } });
    expect(run.state).toBe('success');
    expect(run.tasks.never).toMatchObject({ state: 'skipped', tryNumber: 1 });
    expect(run.tasks.after!.state).toBe('skipped');
    expect(run.tasks.cleanup).toMatchObject({ state: 'success', result: 'cleaned' });
  });
});

describe('reschedule mode', () => {
  it('frees the worker thread between pokes (up_for_reschedule) on the same try, then succeeds', async () => {
    const { h, database } = setup();
    const seen: { state: string | null; tryNumber: number }[] = [];
    const onState = async (change: { taskId: string; state: string | null; runRowId: string }) => {
      if (change.taskId !== 'wait_for_file') return;
      const [row] = await database.db
        .select({ tryNumber: taskInstances.tryNumber })
        .from(taskInstances)
        .where(and(eq(taskInstances.runId, change.runRowId), eq(taskInstances.taskId, change.taskId)));
      seen.push({ state: change.state, tryNumber: row?.tryNumber ?? -1 });
    };
    const rescheduled = h.next('task:state', (c) => c.taskId === 'wait_for_file' && c.state === 'up_for_reschedule');
    h.engine.bus.on('task:state', onState);
    try {
      const run = await h.run('reschedule', { conf: { dir } });
      await rescheduled;
      expect(run.state).toBe('success');
      // One thread: the producer ran while the sensor waited for its next poke.
      expect(run.tasks.producer).toMatchObject({ state: 'success', result: 'produced' });
      expect(run.tasks.wait_for_file).toMatchObject({ state: 'success', tryNumber: 1, result: 'found' });
      const pokes = await pokeCount('wait_for_file');
      expect(pokes).toBeGreaterThanOrEqual(2);
      const states = seen.map((s) => s.state);
      expect(states.filter((s) => s === 'up_for_reschedule')).toHaveLength(pokes - 1);
      expect(states.at(-1)).toBe('success');
      // A reschedule does not use up a try: try 1 while it waits for the next poke, and at its end.
      expect(
        seen.filter((s) => s.state === 'up_for_reschedule' || s.state === 'success').map((s) => s.tryNumber),
      ).toEqual(Array(pokes).fill(1));
      const log = await taskLog(database, run.id, 'wait_for_file');
      expect(new Set(log.map((l) => l.tryNumber))).toEqual(new Set([1]));
      expect(log.filter((l) => l.message.startsWith('not yet: rescheduled, next poke at '))).toHaveLength(pokes - 1);
    } finally {
      h.engine.bus.off('task:state', onState);
    }
  });

  it('counts the sensor timeout from the first poke across reschedules, and does not retry', async () => {
    const { h, database } = setup();
    const run = await h.run('reschedule_timeout', { conf: { dir } });
    expect(run.state).toBe('failed');
    expect(run.tasks.never).toMatchObject({ state: 'failed', tryNumber: 1, error: 'sensor timed out after 450ms' });
    // 450 ms from the first poke at one poke per 100 ms or more: a handful of pokes, not an endless wait.
    const pokes = await pokeCount('never');
    expect(pokes).toBeGreaterThanOrEqual(2);
    expect(pokes).toBeLessThanOrEqual(6);
    const log = await taskLog(database, run.id, 'never');
    const first = log[0]!.at.getTime();
    const last = log.at(-1)!.at.getTime();
    expect(last - first).toBeGreaterThanOrEqual(450 - 100);
    const [row] = await database.db
      .select({ sensorStartedAt: taskInstances.sensorStartedAt })
      .from(taskInstances)
      .where(eq(taskInstances.runId, run.id));
    expect(row!.sensorStartedAt).toBeNull();
  });

  it('a clear forgets the first poke: the cleared sensor starts a new try with a new timeout', async () => {
    const { h, database } = setup();
    const rescheduled = h.next('task:state', (c) => c.taskId === 'wait_for_file' && c.state === 'up_for_reschedule');
    const { id, finished } = await h.trigger('clearable', { conf: { dir } });
    await rescheduled;
    const row = async () => (await database.db.select().from(taskInstances).where(eq(taskInstances.runId, id)))[0]!;
    const waiting = await row();
    expect(waiting).toMatchObject({ state: 'up_for_reschedule', tryNumber: 1 });
    expect(waiting.sensorStartedAt).toBeInstanceOf(Date);
    expect(waiting.nextTryAt).toBeInstanceOf(Date);

    // The UI shows the state in its colour and, on the task instance page, the next poke.
    const app = new Hono();
    app.use('*', authenticate(database.db, authOptions(h.engine.config)));
    app.route('/', runPages(h.engine));
    const { viewer } = await uiSessions(database.db, 'sensors');
    const { get } = uiClient(() => app);
    const [{ runId }] = (await database.db
      .select({ runId: dagRuns.runId })
      .from(dagRuns)
      .where(eq(dagRuns.id, id))) as [{ runId: string }];
    const runPage = await get(`/ui/dags/clearable/runs/${encodeURIComponent(runId)}`, viewer);
    expect(runPage.html).toContain('<span class="state s-up_for_reschedule">up_for_reschedule</span>');
    expect(runPage.html).toMatch(/\.s-up_for_reschedule\{background:#40e0d0/);
    const tiPage = await get(`/ui/dags/clearable/runs/${encodeURIComponent(runId)}/tasks/wait_for_file`, viewer);
    expect(tiPage.status).toBe(200);
    expect(tiPage.html).toContain('Next poke at');
    expect(tiPage.html).toMatch(new RegExp(`Next poke at.*?<time datetime="${waiting.nextTryAt!.toISOString()}"`, 's'));

    const cleared = await clearTaskInstances(database.db, 'clearable', {
      actor: 'test',
      runId: 'latest',
      taskIds: ['wait_for_file'],
    });
    expect(cleared.count).toBe(1);
    expect(cleared.runs[0]!.tasks[0]).toMatchObject({ taskId: 'wait_for_file', state: 'up_for_reschedule' });
    const after = await row();
    expect(after.sensorStartedAt).toBeNull();
    expect(after.nextTryAt).toBeNull();

    await writeFile(path.join(dir, 'ready'), 'yes');
    const run = await finished;
    expect(run.state).toBe('success');
    // The cleared instance ran a new try (2), not the old one's reschedule.
    expect(run.tasks.wait_for_file).toMatchObject({ state: 'success', tryNumber: 2 });
  });
});
