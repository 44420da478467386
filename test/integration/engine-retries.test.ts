/**
 * Retries, FailTask and timeouts end to end: what the task instance and its stored
 * log show after the run. Backoff is read from what the engine recorded (the
 * 'retrying at' line of each failed try, stamped when the try ended), not from the clock.
 */
import { describe, expect, it } from 'vitest';
import { taskLog, useEngine } from '../support/engine.js';

const DAGS = `import { dag, FailTask } from 'updraft';

export const flaky = dag({ id: 'flaky' }, (t) => {
  t.task('fetch', { retries: 2, retryDelay: '200ms', retryBackoff: true }, async (ctx) => {
    ctx.log.info('try ' + ctx.tryNumber + ' of ' + ctx.maxTries + ' starting');
    if (ctx.tryNumber < 3) throw new Error('upstream API answered 503 on try ' + ctx.tryNumber);
    return { fetched: ctx.tryNumber };
  });
});

export const gives_up = dag({ id: 'gives_up' }, (t) => {
  t.task('validate', { retries: 3, retryDelay: '100ms' }, async () => {
    throw new FailTask('input has no header row');
  });
});

export const busy = dag({ id: 'busy' }, (t) => {
  t.task('spin', { timeout: '300ms' }, async () => {
    for (;;) {
      // never yields: only ending the thread stops it
    }
  });
});
`;

const setup = useEngine({ 'retries.ts': DAGS });

describe('retries', () => {
  it('retries a failing task with exponential backoff until it succeeds, logging every try', async () => {
    const { h, database } = setup();
    const run = await h.run('flaky');
    expect(run.state).toBe('success');
    expect(run.tasks.fetch).toMatchObject({ state: 'success', tryNumber: 3, error: null, result: { fetched: 3 } });

    const log = await taskLog(database, run.id, 'fetch');
    const ofTry = (n: number) => log.filter((l) => l.tryNumber === n);
    expect(new Set(log.map((l) => l.tryNumber))).toEqual(new Set([1, 2, 3]));
    for (const n of [1, 2]) {
      const lines = ofTry(n).map((l) => l.message);
      expect(lines[0]).toBe(`try ${n} of 3 starting`);
      expect(lines.some((m) => m.startsWith(`Error: upstream API answered 503 on try ${n}\n`))).toBe(true);
    }
    expect(ofTry(3).map((l) => `${l.level}: ${l.message}`)).toEqual(['info: try 3 of 3 starting']);

    // Each failed try says when the next may start: 200 ms after try 1, then 400 ms after try 2.
    const retryAt = (n: number) => {
      const line = ofTry(n).find((l) => l.message.includes('retrying at'))!;
      expect(line.message).toMatch(new RegExp(`^try ${n} of 3 failed; retrying at `));
      return { endedAt: line.at.getTime(), nextTryAt: new Date(line.message.split('retrying at ')[1]!).getTime() };
    };
    const first = retryAt(1);
    const second = retryAt(2);
    expect(first.nextTryAt - first.endedAt).toBe(200);
    expect(second.nextTryAt - second.endedAt).toBe(400);
    // And no retry started before its time.
    expect(ofTry(2)[0]!.at.getTime()).toBeGreaterThanOrEqual(first.nextTryAt);
    expect(ofTry(3)[0]!.at.getTime()).toBeGreaterThanOrEqual(second.nextTryAt);
  });

  it('fails at once on FailTask, whatever retries are left', async () => {
    const { h, database } = setup();
    const run = await h.run('gives_up');
    expect(run.state).toBe('failed');
    expect(run.tasks.validate).toMatchObject({ state: 'failed', tryNumber: 1, error: 'input has no header row' });
    const log = await taskLog(database, run.id, 'validate');
    expect(log.every((l) => !l.message.includes('retrying'))).toBe(true);
  });

  it('aborts a busy loop at its timeout and fails the task', async () => {
    const { h, database } = setup();
    const run = await h.run('busy');
    expect(run.state).toBe('failed');
    expect(run.tasks.spin).toMatchObject({ state: 'failed', tryNumber: 1, error: 'timed out after 300ms' });
    const { startedAt, endedAt } = run.tasks.spin!;
    expect(endedAt!.getTime() - startedAt!.getTime()).toBeGreaterThanOrEqual(300);
    const log = await taskLog(database, run.id, 'spin');
    expect(log.map((l) => `${l.level}: ${l.message}`)).toContain('error: timed out after 300ms');
    expect(h.errors).toEqual([]);
  });
});
