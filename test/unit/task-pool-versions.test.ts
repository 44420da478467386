import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskPool } from '../../src/executor/pool.js';
import type { TaskOutcome, TaskPayload } from '../../src/executor/protocol.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { taskPayload } from '../support/task-payload.js';

let folder: DagFolder;

beforeAll(async () => {
  folder = await makeDagFolder();
});

afterAll(async () => {
  await folder?.cleanup();
});

/**
 * Version `n` of a DAG file. Each import of it counts itself in its thread, so a try can
 * say how many module versions its thread has evaluated (and holds: Node never evicts them).
 */
const source = (n: number) => `
import { dag } from 'updraft';
const g = globalThis as { __versionsEvaluated?: number };
g.__versionsEvaluated = (g.__versionsEvaluated ?? 0) + 1;
export default dag({ id: 'changing' }, (t) => {
  const gate = t.task('gate', async () => 0);
  t.task('slow', async (ctx) => ({ version: ${n}, gate: await ctx.pull(gate) }));
  t.task('now', async () => ({ version: ${n}, held: g.__versionsEvaluated }));
});
`;

function payload(file: string, version: number, taskId: string): Omit<TaskPayload, 'port'> {
  return taskPayload({
    file,
    fileVersion: `v${version}`,
    dagId: 'changing',
    taskId,
    taskInstanceId: `${taskId}-${version}`,
  });
}

/** Each set of threads takes seconds to start here (tsx and Updraft load in each thread). */
const LAST = 12;

describe('TaskPool with a DAG file that keeps changing', () => {
  it('replaces threads that hold too many old versions, without losing a try in flight', {
    timeout: 120_000,
  }, async () => {
    const pool = new TaskPool({ size: 1, maxStaleVersions: 2 });
    try {
      const file = await folder.write('changing.ts', source(1));
      // A try of version 1 is still running (waiting for its pull) while the file changes.
      let openGate!: (value: unknown) => void;
      let asked!: () => void;
      const gateAsked = new Promise<void>((resolve) => (asked = resolve));
      const slow = pool.run(payload(file, 1, 'slow'), {
        timeoutMs: null,
        onAsk: () => {
          asked();
          return new Promise((resolve) => (openGate = resolve));
        },
      });
      await gateAsked;

      const outcomes: Promise<TaskOutcome>[] = [];
      for (let n = 2; n <= LAST; n++) {
        await folder.write('changing.ts', source(n));
        const outcome = pool.run(payload(file, n, 'now'), { timeoutMs: null });
        outcomes.push(outcome);
        // The first versions queue behind the slow try; later ones run on fresh threads beside it.
        if (n > 3) await outcome;
      }
      openGate(42);
      expect(await slow).toEqual({ status: 'success', result: { version: 1, gate: 42 } });
      const results = await Promise.all(outcomes);
      // Every try ran the code of the file as it was when the try started: the two queued
      // behind the slow try started last. No thread evaluated more than 1 + 2 stale versions.
      const versions = results.map((o) => (o.status === 'success' ? (o.result as { version: number }).version : o));
      expect(versions).toEqual([LAST, LAST, ...Array.from({ length: LAST - 3 }, (_, i) => i + 4)]);
      const held = results.map((o) => (o.status === 'success' ? (o.result as { held: number }).held : Infinity));
      expect(Math.max(...held)).toBeLessThanOrEqual(3);
      // Versions 4 to 12 three at a time: three more sets of threads.
      expect(pool.replaced).toBe(3);
      expect(pool.running).toBe(0);
    } finally {
      await pool.close();
    }
  });
});

/** This process's esbuild children, running or zombie, e.g. ['Z esbuild <defunct>']: `ps --ppid`. */
async function esbuildChildren(): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)('ps', ['--ppid', String(process.pid), '-o', 'stat=,args=']);
    return stdout
      .split('\n')
      .map((s) => s.trim())
      .filter((line) => line.includes('esbuild'));
  } catch {
    return []; // ps exits 1 when there is none
  }
}

describe('TaskPool ending its threads', () => {
  it('ends their esbuild services first, retired threads and closed ones: no child process left behind', {
    timeout: 120_000,
  }, async () => {
    const pool = new TaskPool({ size: 1, maxStaleVersions: 0 });
    try {
      const file = await folder.write('ending.ts', source(1));
      expect(await pool.run(payload(file, 1, 'now'), { timeoutMs: null })).toMatchObject({ status: 'success' });
      await folder.write('ending.ts', source(2));
      // Version 2 retires the first set of threads (maxStaleVersions 0); the pool ends it.
      expect(await pool.run(payload(file, 2, 'now'), { timeoutMs: null })).toMatchObject({ status: 'success' });
      expect(pool.replaced).toBe(1);
    } finally {
      await pool.close();
    }
    // close() waited for the retired set too.
    expect(await esbuildChildren()).toEqual([]);
  });
});
