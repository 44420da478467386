/**
 * Fault injection: a worker is stopped (SIGTERM) while it holds work
 * (test/support/fault-cluster.ts): within the grace, past a short grace, and past a short
 * grace with an SQL statement in flight. What it hands back runs again without using a try.
 */
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  cluster,
  effectsUrl,
  exactlyOnce,
  exitWithin,
  fx,
  gatedDag,
  heldBy,
  holdRun,
  key,
  marks,
  runStates,
  stopCleanly,
  taskInstances,
  trigger,
  until,
  useFaultCluster,
} from '../support/fault-cluster.js';
import { expectSound, faultReport } from '../support/fault-report.js';

useFaultCluster();

describe('fault injection: a worker is stopped (SIGTERM)', () => {
  it('hands back its unstarted tries at once, lets its running tries finish within the grace, claims nothing more and exits 0', {
    timeout: 60_000,
  }, async () => {
    const DAG = 'fx_sigterm';
    const c = await cluster('sigterm.ts', gatedDag(DAG));
    const scheduler = c.start(['scheduler', '--no-execute']);
    const stopping = c.start(['worker'], { UPDRAFT_SHUTDOWN_GRACE: '20s' });
    await Promise.all([scheduler.ready, stopping.ready]);
    await holdRun(c, DAG, 0, stopping);
    const other = c.start(['worker']);
    await other.ready;
    await holdRun(c, DAG, 1, other);

    const running = (await heldBy(c.db, stopping.pid))
      .filter((t) => t.state === 'running')
      .map(key)
      .sort();
    stopping.signal('SIGTERM');
    await stopping.waitFor(/SIGTERM: stopping/);
    // The two tries it had claimed without starting go back at once, while its running ones go on.
    const kept = await until(
      'the unstarted tries handed back',
      async () => (await heldBy(c.db, stopping.pid)).map(key).sort(),
      (held) => held.length === 2,
      10_000,
      c.output,
    );
    expect(kept).toEqual(running);
    // Work that is ready while it stops: the stopping worker must leave it to the other.
    await trigger(c.db, DAG, 1, 2);
    const gateOpenedAt = Date.now();
    await c.openGate();
    const exit = await exitWithin(stopping, 30_000);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    // It left as soon as its tries ended, not at the end of the 20 s grace.
    expect(exit.at - gateOpenedAt).toBeLessThan(10_000);
    await until('every run ended', () => runStates(c.db), allEnded(3), 30_000, c.output);
    await stopCleanly([scheduler, other]);

    expectSound(await faultReport('sigterm within the grace', { db: c.db, dagId: DAG, runsExpected: 3 }), {
      faulted: [],
    });
    expect(await runStates(c.db)).toEqual({ total: 3, ended: 3, success: 3 });
    const tasks = await taskInstances(c.db);
    expect(exactlyOnce(tasks, await marks('effects', DAG))).toEqual([]);
    // Its two running tries finished there; it started nothing after the SIGTERM; what it had
    // claimed without starting ran on the other worker without using up a try.
    expect(
      tasks
        .filter((t) => t.pid === stopping.pid)
        .map(key)
        .sort(),
    ).toEqual(running);
    expect(
      (await marks('starts', DAG))
        .filter((s) => s.pid === stopping.pid)
        .map(key)
        .sort(),
    ).toEqual(running);
    expect(tasks.filter((t) => t.try_number !== 1)).toEqual([]);
  });

  it('with a grace shorter than the task: hands the running tries back, exits 0, and the other worker runs them again', {
    timeout: 60_000,
  }, async () => {
    const DAG = 'fx_sigterm_short';
    const c = await cluster('sigterm_short.ts', gatedDag(DAG));
    const scheduler = c.start(['scheduler', '--no-execute']);
    const stopping = c.start(['worker'], { UPDRAFT_SHUTDOWN_GRACE: '1s' });
    await Promise.all([scheduler.ready, stopping.ready]);
    await holdRun(c, DAG, 0, stopping);
    const other = c.start(['worker']);
    await other.ready;

    const running = (await heldBy(c.db, stopping.pid))
      .filter((t) => t.state === 'running')
      .map(key)
      .sort();
    const signalledAt = Date.now();
    stopping.signal('SIGTERM');
    const exit = await exitWithin(stopping, 20_000);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.at - signalledAt).toBeLessThan(10_000);
    // The gate opens only now: the stopped worker's tries cannot have done their work.
    await until(
      'the other worker runs the handed-back tries',
      async () => (await marks('starts', DAG)).filter((s) => s.pid === other.pid).length,
      (n) => n >= 2,
      20_000,
      c.output,
    );
    await c.openGate();
    await until('the run ended', () => runStates(c.db), allEnded(1), 30_000, c.output);
    await stopCleanly([scheduler, other]);

    expectSound(await faultReport('sigterm past a short grace', { db: c.db, dagId: DAG, runsExpected: 1 }), {
      faulted: [stopping.pid],
    });
    expect(await runStates(c.db)).toEqual({ total: 1, ended: 1, success: 1 });
    const tasks = await taskInstances(c.db);
    const effects = await marks('effects', DAG);
    expect(exactlyOnce(tasks, effects)).toEqual([]);
    expect(effects.filter((e) => e.pid !== other.pid)).toEqual([]);
    // Handed back without using up a try: the interrupted tries ran again as try 1.
    expect(tasks.filter((t) => t.try_number !== 1)).toEqual([]);
    const starts = await marks('starts', DAG);
    expect(
      starts
        .filter((s) => s.pid === stopping.pid)
        .map((s) => [key(s), s.try_number])
        .sort(),
    ).toEqual(running.map((k) => [k, 1]));
    for (const k of running)
      expect(starts.filter((s) => key(s) === k).map((s) => s.pid)).toEqual([stopping.pid, other.pid]);
  });

  // The grace ends while the try's statement runs. Handed back, the try must commit nothing
  // (docs/operators.md: an aborted try's query is cancelled on the server), or the other
  // worker's try 1 repeats work that the stopped worker's try 1 committed after all.
  it('with a grace shorter than an SQL statement in flight: the handed-back try commits nothing, so its work is done once', {
    timeout: 60_000,
  }, async () => {
    const DAG = 'fx_sigterm_sql';
    const c = await cluster(
      'sigterm_sql.ts',
      () => `import { dag } from 'updraft';
export default dag({ id: '${DAG}', schedule: null }, (t) => {
  // The sql operator as it comes (one transaction): a statement that takes 2 s, then writes the effect.
  t.sql('slow', {
    conn: 'fx',
    sql: (ctx) => ({
      text: 'insert into effects (dag_id, run_id, task_id, try_number, pid) select $1, $2, $3, $4, $5 from pg_sleep(2)',
      values: [ctx.dagId, ctx.runId, ctx.taskId, ctx.tryNumber, process.pid],
    }),
  });
});
`,
      { UPDRAFT_CONN_FX: effectsUrl() },
    );
    const scheduler = c.start(['scheduler', '--no-execute']);
    const stopping = c.start(['worker'], { UPDRAFT_SHUTDOWN_GRACE: '1s' });
    await Promise.all([scheduler.ready, stopping.ready]);
    await trigger(c.db, DAG, 1);
    const inFlight = async () =>
      (
        await fx().query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and state = 'active' and query like '%pg_sleep%' and pid <> pg_backend_pid()`,
        )
      ).rows[0]!.n;
    await until('the statement runs on the stopping worker', inFlight, (n) => n === 1, 20_000, c.output);
    expect((await heldBy(c.db, stopping.pid)).map((t) => t.task_id)).toEqual(['slow']);

    stopping.signal('SIGTERM');
    const other = c.start(['worker']);
    const exit = await exitWithin(stopping, 20_000);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    await until('the run ended', () => runStates(c.db), allEnded(1), 30_000, c.output);
    // Every statement has ended, the stopped worker's included (it would commit by now).
    await until('no statement in flight', inFlight, (n) => n === 0, 10_000, c.output);
    await stopCleanly([scheduler, other]);

    expectSound(
      await faultReport('sigterm past a short grace, SQL in flight', { db: c.db, dagId: DAG, runsExpected: 1 }),
      { faulted: [stopping.pid] },
    );
    expect(await runStates(c.db)).toEqual({ total: 1, ended: 1, success: 1 });
    const tasks = await taskInstances(c.db);
    expect(tasks.map((t) => [t.task_id, t.state, t.try_number])).toEqual([['slow', 'success', 1]]);
    const effects = await marks('effects', DAG);
    expect(
      effects.map((e) => [
        e.task_id,
        e.try_number,
        e.pid === other.pid ? 'other' : e.pid === stopping.pid ? 'stopped' : e.pid,
      ]),
    ).toEqual([['slow', 1, 'other']]);
  });
});
