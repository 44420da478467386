/**
 * Fault injection: a process dies (kill -9) while it holds work (test/support/fault-cluster.ts).
 * A worker's tries are taken over after the heartbeat timeout: those it had only claimed
 * run elsewhere without using a try, those it had started as their next try. A scheduler's
 * duties pass to the other scheduler.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { execute } from '../../src/db/execute.js';
import {
  allEnded,
  cluster,
  exactlyOnce,
  gatedDag,
  heldBy,
  holdRun,
  key,
  marks,
  prelude,
  runStates,
  stopCleanly,
  taskInstances,
  until,
  useFaultCluster,
} from '../support/fault-cluster.js';
import { expectSound, faultReport } from '../support/fault-report.js';

useFaultCluster();

const HOUR = 3_600_000;

describe('fault injection: a worker dies', () => {
  it('kill -9 of a worker with running and claimed tries: after the heartbeat timeout the other worker runs the claimed ones as try 1, the running ones as try 2', {
    timeout: 60_000,
  }, async () => {
    const DAG = 'fx_kill_worker';
    const c = await cluster('kill_worker.ts', gatedDag(DAG));
    const scheduler = c.start(['scheduler', '--no-execute']);
    const doomed = c.start(['worker']);
    await Promise.all([scheduler.ready, doomed.ready]);
    await holdRun(c, DAG, 0, doomed);
    const survivor = c.start(['worker']);
    await survivor.ready;
    await holdRun(c, DAG, 1, survivor);

    const lost = await heldBy(c.db, doomed.pid);
    const running = new Set(lost.filter((t) => t.state === 'running').map(key));
    await doomed.kill();
    const killedAt = Date.now();
    await c.openGate();
    await until('both runs ended', () => runStates(c.db), allEnded(2), 30_000, c.output);
    await stopCleanly([scheduler, survivor]);

    expectSound(await faultReport('kill -9 of a worker', { db: c.db, dagId: DAG, runsExpected: 2 }), {
      faulted: [doomed.pid],
    });
    expect(await runStates(c.db)).toEqual({ total: 2, ended: 2, success: 2 });
    const tasks = await taskInstances(c.db);
    const effects = await marks('effects', DAG);
    expect(exactlyOnce(tasks, effects)).toEqual([]);
    // The killed worker's tries ran on the survivor: those it had started as try 2 (the
    // killed try counts), those it had only claimed as try 1 (a crash costs no more than a
    // SIGTERM, which hands them back); the rest ran once.
    const lostKeys = new Set(lost.map(key));
    expect(running.size).toBe(2);
    expect(tasks.filter((t) => lostKeys.has(key(t))).map((t) => [key(t), t.try_number, t.pid])).toEqual(
      lost.map((t) => [key(t), running.has(key(t)) ? 2 : 1, survivor.pid]),
    );
    expect(tasks.filter((t) => !lostKeys.has(key(t))).map((t) => t.try_number)).toEqual(
      Array(tasks.length - lost.length).fill(1),
    );
    // The dead worker's running tries never got to their effect.
    expect(effects.filter((e) => e.pid === doomed.pid)).toEqual([]);
    // Not taken over early: they waited for the 3 s heartbeat timeout (less the age of the
    // last beat at the kill, about one 0.5 s interval, and as much again for slack).
    const takenOver = (await marks('starts', DAG)).filter((s) => lostKeys.has(key(s)) && s.pid === survivor.pid);
    expect(takenOver.map((s) => [key(s), s.try_number]).sort()).toEqual(
      lost.map((t) => [key(t), running.has(key(t)) ? 2 : 1]).sort(),
    );
    expect(Math.min(...takenOver.map((r) => r.at.getTime())) - killedAt).toBeGreaterThanOrEqual(2_000);
    // The killed running tries say why they failed (a handed-back claim may say so too).
    const { rows: reaped } = await execute<{ task_id: string }>(
      c.db,
      sql`select distinct ti.task_id from task_logs l join task_instances ti on ti.id = l.task_instance_id
           where l.try_number = 1 and l.message like ${`no heartbeat from %:${doomed.pid}:%`} order by ti.task_id`,
    );
    expect(reaped.map((r) => r.task_id)).toEqual(
      expect.arrayContaining(lost.filter((t) => running.has(key(t))).map((t) => t.task_id)),
    );
  });
});

describe('fault injection: a scheduler dies', () => {
  it('kill -9 of one scheduler of two mid-run: the other creates and starts the rest', {
    timeout: 60_000,
  }, async () => {
    const DAG = 'fx_kill_scheduler';
    const RUNS = 16;
    const startDate = new Date(Math.floor(Date.now() / HOUR) * HOUR - RUNS * HOUR);
    // Two active runs at a time: runs are created and started throughout, not all at first.
    const c = await cluster(
      'kill_scheduler.ts',
      () => `${prelude(null, 30)}
export default dag({ id: '${DAG}', schedule: '@hourly', startDate: ${JSON.stringify(startDate.toISOString())}, catchup: true, maxActiveRuns: 2 }, (t) => {
  t.task('a', work).then(t.task('b', work)).then(t.task('c', work));
});
`,
    );
    const schedulers = [c.start(['scheduler', '--no-execute']), c.start(['scheduler', '--no-execute'])];
    const worker = c.start(['worker']);
    await Promise.all([...schedulers, worker].map((p) => p.ready));

    const before = await until(
      'three runs done',
      () => runStates(c.db),
      (s) => s.success >= 3,
      30_000,
      c.output,
    );
    await schedulers[0]!.kill();
    const killedAt = new Date();
    expect(before.success).toBeLessThan(RUNS);
    // One run per hour since the start date (one more if the clock passed the hour meanwhile).
    const after = await until('every run ended', () => runStates(c.db), allEnded(RUNS), 40_000, c.output);
    await stopCleanly([schedulers[1]!, worker]);

    expectSound(await faultReport('kill -9 of a scheduler', { db: c.db, dagId: DAG, runsExpected: after.total }));
    expect(after.success).toBe(after.total);
    const { rows: runs } = await execute<{ logical_date: Date | string; started_at: Date | string }>(
      c.db,
      sql`select logical_date, started_at from dag_runs order by logical_date`,
    );
    expect(runs.map((r) => new Date(r.logical_date).getTime())).toEqual(
      runs.map((_, i) => startDate.getTime() + i * HOUR),
    );
    // The survivor started runs after the kill.
    expect(runs.filter((r) => new Date(r.started_at) > killedAt).length).toBeGreaterThan(0);
    const tasks = await taskInstances(c.db);
    expect(tasks).toHaveLength(runs.length * 3);
    expect(tasks.filter((t) => t.try_number !== 1)).toEqual([]);
    expect(exactlyOnce(tasks, await marks('effects', DAG))).toEqual([]);
  });
});
