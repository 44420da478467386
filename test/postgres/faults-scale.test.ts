/**
 * Fault injection, the baseline (test/support/fault-cluster.ts): no fault, at scale. Two
 * schedulers (--no-execute) and two workers on one PostgreSQL run 100 runs of 100 tasks;
 * each task must run exactly once, on one of the workers.
 */
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  cluster,
  exactlyOnce,
  key,
  marks,
  prelude,
  runStates,
  stopCleanly,
  taskInstances,
  trigger,
  until,
  useFaultCluster,
} from '../support/fault-cluster.js';
import { expectSound, faultReport } from '../support/fault-report.js';

useFaultCluster();

describe('fault injection: two schedulers and two workers on one PostgreSQL', () => {
  // 100 runs of 100 tasks, as the issue asks: 18-22 s from the first trigger to the last
  // run's end, 24-28 s for the whole case (2 cores, PostgreSQL 15 on the same machine).
  // Tasks are split about evenly (5,033 / 4,967 in one run).
  const RUNS = 100;
  const TASKS = 100;

  it(`runs ${RUNS} runs of ${TASKS} tasks, each task exactly once, on both workers`, { timeout: 90_000 }, async () => {
    const c = await cluster(
      'scale.ts',
      () => `${prelude(null)}
export default dag({ id: 'fx_scale', schedule: null, maxActiveRuns: ${RUNS}, maxActiveTasks: 1000 }, (t) => {
  const first = t.task('first', work);
  const middle = Array.from({ length: ${TASKS - 2} }, (_, i) => t.task('t' + String(i).padStart(3, '0'), work));
  const last = t.task('last', work);
  first.then(middle);
  last.after(middle);
});
`,
      // Not about heartbeats: the defaults, so that a busy machine cannot starve them into a reap.
      { UPDRAFT_HEARTBEAT_INTERVAL: '5s', UPDRAFT_HEARTBEAT_TIMEOUT: '30s', UPDRAFT_CONCURRENCY: '4' },
    );
    const schedulers = [c.start(['scheduler', '--no-execute']), c.start(['scheduler', '--no-execute'])];
    const workers = [c.start(['worker']), c.start(['worker'])];
    await Promise.all([...schedulers, ...workers].map((p) => p.ready));

    const began = Date.now();
    await trigger(c.db, 'fx_scale', RUNS);
    await until('every run ended', () => runStates(c.db), allEnded(RUNS), 60_000, c.output);
    const seconds = ((Date.now() - began) / 1000).toFixed(1);
    await stopCleanly([...schedulers, ...workers]);

    expect(await runStates(c.db)).toEqual({ total: RUNS, ended: RUNS, success: RUNS });
    const tasks = await taskInstances(c.db);
    expect(tasks).toHaveLength(RUNS * TASKS);
    expect(tasks.filter((t) => t.try_number !== 1)).toEqual([]);
    const effects = await marks('effects', 'fx_scale');
    expect(exactlyOnce(tasks, effects)).toEqual([]);
    // Executed once: one start per task instance as well.
    const starts = await marks('starts', 'fx_scale');
    expect(starts).toHaveLength(RUNS * TASKS);
    expect(new Set(starts.map(key)).size).toBe(RUNS * TASKS);
    // Both workers did some of it, and only they.
    const byPid = new Map<number, number>();
    for (const e of effects) byPid.set(e.pid, (byPid.get(e.pid) ?? 0) + 1);
    console.info(
      `fx_scale: ${RUNS} runs of ${TASKS} tasks in ${seconds} s; tasks per worker pid ${JSON.stringify(Object.fromEntries(byPid))}`,
    );
    expect([...byPid.keys()].sort()).toEqual(workers.map((w) => w.pid).sort());
    expectSound(await faultReport('none (100 runs of 100 tasks)', { db: c.db, dagId: 'fx_scale', runsExpected: RUNS }));
  });
});
