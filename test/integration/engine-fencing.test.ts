/**
 * Fencing: a result counts only when it comes from the try that owns the task
 * instance (its lease and try number). A late or repeated result is refused, noted in
 * the task's log, and changes nothing.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { dagRuns, taskInstances } from '../../src/db/schema.js';
import { completeTries } from '../../src/state/complete-tries.js';
import { reapLostTasks } from '../../src/state/reap.js';
import { taskLog, taskStates, useEngine } from '../support/engine.js';

const DAGS = `import { existsSync } from 'node:fs';
import { dag } from 'updraft';

export const fenced = dag({ id: 'fenced' }, (t) => {
  t.task('only', async () => 'first result');
});

// Try 1 waits for a file (conf.gate) and then answers late; try 2 answers at once.
export const zombie = dag({ id: 'zombie' }, (t) => {
  t.task('slow', { retries: 1, retryDelay: '100ms' }, async (ctx) => {
    if (ctx.tryNumber > 1) return 'from try ' + ctx.tryNumber;
    while (!existsSync(String(ctx.conf.gate))) await new Promise((r) => setTimeout(r, 20));
    return 'late answer of try 1';
  });
});
`;

const setup = useEngine({ 'fencing.ts': DAGS });

async function instance(runRowId: string, taskId: string) {
  const { database } = setup();
  const [row] = await database.db.select().from(taskInstances).where(eq(taskInstances.runId, runRowId));
  expect(row!.taskId).toBe(taskId);
  return row!;
}

describe('fencing', () => {
  it('refuses a result sent again after its try finished, and notes it in the log', async () => {
    const { h, database } = setup();
    const run = await h.run('fenced');
    expect(run.state).toBe('success');
    const ti = await instance(run.id, 'only');
    const [version] = await database.db
      .select({ id: dagRuns.dagVersionId })
      .from(dagRuns)
      .where(eq(dagRuns.id, run.id));

    const report = await completeTries(database.db, h.engine.cache, [
      {
        taskInstanceId: ti.id,
        lease: ti.lease!,
        tryNumber: ti.tryNumber,
        runRowId: run.id,
        taskId: 'only',
        versionId: version!.id!,
        state: 'failed',
        error: 'a stale failure',
        result: 'stale result',
        logs: [{ level: 'error', message: 'a stale failure', at: Date.now() }],
      },
    ]);
    expect(report.refused).toHaveLength(1);
    expect(report.finishedRuns).toEqual([]);
    expect((await taskStates(database, run.id)).only).toMatchObject({
      state: 'success',
      tryNumber: 1,
      error: null,
      result: 'first result',
    });
    const [after] = await database.db.select({ state: dagRuns.state }).from(dagRuns).where(eq(dagRuns.id, run.id));
    expect(after!.state).toBe('success');
    const log = await taskLog(database, run.id, 'only');
    expect(log.at(-1)).toMatchObject({
      tryNumber: 1,
      level: 'warn',
      message: 'result of try 1 (failed) refused: this try no longer owns the task instance',
    });
  });

  it('takes a result sent again after a lost reply to its commit as recorded: not refused, nothing changed, no warning', async () => {
    const { h, database } = setup();
    const run = await h.run('fenced');
    const ti = await instance(run.id, 'only');
    const [version] = await database.db
      .select({ id: dagRuns.dagVersionId })
      .from(dagRuns)
      .where(eq(dagRuns.id, run.id));
    const logBefore = await taskLog(database, run.id, 'only');

    // What the executor sends again when the reply to its commit was lost: the same try's same end.
    const report = await completeTries(database.db, h.engine.cache, [
      {
        taskInstanceId: ti.id,
        lease: ti.lease!,
        tryNumber: ti.tryNumber,
        runRowId: run.id,
        taskId: 'only',
        versionId: version!.id!,
        state: 'success',
        result: 'again',
        logs: [],
      },
    ]);
    expect(report.refused).toEqual([]);
    expect(report.changes).toEqual([]);
    expect((await taskStates(database, run.id)).only).toMatchObject({
      state: 'success',
      tryNumber: 1,
      result: 'first result',
    });
    expect(await taskLog(database, run.id, 'only')).toEqual(logBefore);
  });

  it('refuses the late result of a try whose task instance was taken over by a newer try', async () => {
    const { h, database, folder } = setup();
    const gate = path.join(folder.path, 'zombie.gate');
    const running = h.next('task:state', (e) => e.taskId === 'slow' && e.state === 'running' && e.tryNumber === 1);
    const { id, finished } = await h.trigger('zombie', { conf: { gate } });
    await running;
    // Running as the database sees it (a try the database still sees as queued is handed back, not retried).
    let first = await instance(id, 'slow');
    while (first.state !== 'running') {
      await new Promise((resolve) => setTimeout(resolve, 20));
      first = await instance(id, 'slow');
    }

    // What the reaper does once the owner's heartbeat is overdue: here at once, while try 1 still runs.
    const reaped = await reapLostTasks(database.db, h.engine.cache, 0);
    expect(reaped?.changes).toEqual([{ runRowId: id, taskId: 'slow', state: 'up_for_retry' }]);
    h.engine.bus.emit('runs');

    const run = await finished;
    expect(run.state).toBe('success');
    expect(run.tasks.slow).toMatchObject({ state: 'success', tryNumber: 2, result: 'from try 2' });
    const second = await instance(id, 'slow');
    expect(second.lease).not.toBe(first.lease);

    const refused = h.next('task:refused', (e) => e.runRowId === id);
    expect(existsSync(gate)).toBe(false);
    await writeFile(gate, '');
    expect(await refused).toEqual({ runRowId: id, taskId: 'slow', tryNumber: 1 });

    expect((await taskStates(database, id)).slow).toMatchObject({
      state: 'success',
      tryNumber: 2,
      result: 'from try 2',
    });
    const log = await taskLog(database, id, 'slow');
    const lines = log.map((l) => `${l.tryNumber} ${l.level}: ${l.message}`);
    expect(lines).toContainEqual(
      expect.stringMatching(/^1 error: no heartbeat from .* for 0ms: the worker died or lost the database$/),
    );
    expect(lines.at(-1)).toBe('1 warn: result of try 1 (success) refused: this try no longer owns the task instance');
    expect(h.errors).toEqual([]);
  });
});
