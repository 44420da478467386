/**
 * Fault injection: a process is frozen (SIGSTOP) for longer than the heartbeat timeout,
 * then resumed (SIGCONT), under a steady stream of runs (test/support/fault-stream.ts).
 * A frozen process holds whatever it held in PostgreSQL (transactions, locks, rows): the
 * others must not wait for it beyond a few seconds.
 *
 * The first freeze strikes at the worst moment: the frozen process's connections go
 * through a TCP proxy that sends the SIGSTOP when the process sends the statement of
 * interest (a worker's claim, a scheduler's duty lock), before the server runs it; if that
 * statement does not come within 3 s, the freeze strikes then. A worker is then frozen
 * twice more, at random moments.
 */
import { describe, expect, it } from 'vitest';
import {
  allEnded,
  cluster,
  exactlyOnce,
  heldBy,
  key,
  marks,
  runStates,
  sleep,
  stopCleanly,
  taskInstances,
  until,
  useFaultCluster,
  type Cluster,
} from '../support/fault-cluster.js';
import { expectSound, faultReport, keptFromBefore, startedAfterKept } from '../support/fault-report.js';
import { startStream, streamDag } from '../support/fault-stream.js';
import type { UpdraftProcess } from '../support/process.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

useFaultCluster();

const T = 6_000;
const ENV = { UPDRAFT_HEARTBEAT_INTERVAL: '1s', UPDRAFT_HEARTBEAT_TIMEOUT: `${T / 1000}s`, UPDRAFT_CONCURRENCY: '4' };
// Longer than the timeout, so the frozen process's tries are taken over; longer than the
// pause bound, so that waiting for the frozen process shows.
const FREEZE = T + 3_000;
// The others wait at most about clamp(T/6, 2 s, 5 s) (idle_in_transaction_session_timeout)
// plus scheduling noise on a loaded 2-core machine: 2.1-2.2 s measured with T = 6 s. Before
// the fix the wait lasted the whole freeze (9 s; 12.6 s between run starts).
const PAUSE_BOUND_S = 6;

/**
 * SIGSTOP of `p` when it sends a statement matching `at` through `proxy` (or after 3 s;
 * without `at`, within 1.5 s at random), `whileFrozen`, the rest of `FREEZE` ms, SIGCONT.
 * Returns when it was frozen, and how (for the report).
 */
async function freeze(
  p: UpdraftProcess,
  proxy: TcpProxy,
  at: RegExp | undefined,
  whileFrozen: () => Promise<void> = async () => {},
): Promise<{ frozenAt: number; how: string }> {
  let armed = true;
  const stop = () => {
    if (!armed) return;
    armed = false;
    p.signal('SIGSTOP');
  };
  const hit = at ? proxy.onStatement(at, stop).fired.then(() => 'at its statement') : new Promise<string>(() => {});
  const how = await Promise.race([
    hit,
    sleep(at ? 3_000 : Math.random() * 1_500).then(() => (at ? 'after 3 s (no statement)' : 'at a random moment')),
  ]);
  stop();
  const frozenAt = Date.now();
  await whileFrozen();
  await sleep(frozenAt + FREEZE - Date.now());
  p.signal('SIGCONT');
  return { frozenAt, how };
}

/** Until `p` has recorded `n` more effects since `since`: it works again. */
async function worksAgain(c: Cluster, dagId: string, p: UpdraftProcess, since: number, n = 5): Promise<void> {
  await until(
    `pid ${p.pid} works again`,
    async () => (await marks('effects', dagId)).filter((e) => e.pid === p.pid && e.at.getTime() > since).length,
    (k) => k >= n,
    30_000,
    c.output,
  );
}

describe('fault injection: a worker is frozen (SIGSTOP) under load', () => {
  it("the other worker keeps completing, the frozen one's tries are taken over after the timeout, and what it finishes after SIGCONT is refused", {
    timeout: 90_000,
  }, async () => {
    const DAG = 'fx_freeze_worker';
    const c = await cluster('freeze_worker.ts', streamDag(DAG), ENV);
    const proxy = await startTcpProxy(new URL(c.databaseUrl));
    const processes = [c.start(['scheduler', '--no-execute']), c.start(['scheduler', '--no-execute'])];
    const frozen = c.start(['worker'], { DATABASE_URL: proxy.url(c.databaseUrl) });
    const healthy = c.start(['worker']);
    await Promise.all([...processes, frozen, healthy].map((p) => p.ready));
    const stream = startStream(c.db, DAG);
    await worksAgain(c, DAG, frozen, 0, 20);

    // Three times: inside a claim, then twice at a random moment.
    const freezes: { frozenAt: number; how: string }[] = [];
    const heldAtFreeze = new Map<string, number>();
    for (const at of [/set state = 'queued'/, undefined, undefined]) {
      // What it holds in the database while frozen (before the timeout takes it over).
      const f = await freeze(frozen, proxy, at, async () => {
        for (const t of await heldBy(c.db, frozen.pid)) heldAtFreeze.set(key(t), Date.now());
      });
      freezes.push(f);
      await worksAgain(c, DAG, frozen, Date.now());
    }
    const { runs, endedAt } = await stream.stop();
    await until('every run ended', () => runStates(c.db), allEnded(runs), 60_000, c.output);
    await stopCleanly([...processes, frozen, healthy]);
    await proxy.close();

    const figures = await faultReport(
      `SIGSTOP of a worker for ${FREEZE / 1000} s, ${freezes.length} times (${freezes.map((f) => f.how).join(', ')})`,
      {
        db: c.db,
        dagId: DAG,
        runsExpected: runs,
        pids: [healthy.pid],
        window: { from: freezes[0]!.frozenAt - 1_000, to: endedAt },
      },
    );
    const tasks = await taskInstances(c.db);
    const starts = await marks('starts', DAG);
    expectSound(figures, { faulted: [frozen.pid], pauseS: PAUSE_BOUND_S });
    const startedByFrozen = new Set(starts.filter((s) => s.pid === frozen.pid).map(key));
    expect(exactlyOnce(tasks, await marks('effects', DAG), startedByFrozen)).toEqual([]);
    // No try lost to the fault but the frozen worker's started ones: the rest ran as try 1.
    expect(
      tasks.filter((t) => t.try_number !== 1 && !startedByFrozen.has(key(t))).map((t) => [key(t), t.try_number, t.pid]),
    ).toEqual([]);
    expect(tasks.filter((t) => t.try_number > 2).map((t) => [key(t), t.try_number])).toEqual([]);
    // Fencing: what it held while frozen was kept from a try started after the freeze
    // (elsewhere, or claimed anew), never from a try it had started before.
    expect(keptFromBefore(tasks, starts, heldAtFreeze)).toEqual([]);
    // Resumed, it stops what it held before starting any of it: no try starts after the
    // kept try of its task had started (the kept one then ran elsewhere, or anew).
    expect(startedAfterKept(tasks, starts)).toEqual([]);
  });
});

describe('fault injection: a scheduler is frozen (SIGSTOP)', () => {
  it('the other scheduler keeps starting runs', { timeout: 90_000 }, async () => {
    const DAG = 'fx_freeze_scheduler';
    const c = await cluster('freeze_scheduler.ts', streamDag(DAG), ENV);
    const proxy = await startTcpProxy(new URL(c.databaseUrl));
    const frozen = c.start(['scheduler', '--no-execute'], { DATABASE_URL: proxy.url(c.databaseUrl) });
    const other = c.start(['scheduler', '--no-execute']);
    const workers = [c.start(['worker']), c.start(['worker'])];
    await Promise.all([frozen, other, ...workers].map((p) => p.ready));
    const stream = startStream(c.db, DAG);
    await until(
      'runs under way',
      () => runStates(c.db),
      (s) => s.success >= 5,
      30_000,
      c.output,
    );

    // As it takes the lock of a scheduler duty (run start or creation): it then holds it.
    const { frozenAt, how } = await freeze(frozen, proxy, /pg_(try_)?advisory_xact_lock/);
    const resumed = await runStates(c.db);
    await until(
      'runs go on after SIGCONT',
      async () => (await runStates(c.db)).success,
      (n) => n >= resumed.success + 5,
      30_000,
      c.output,
    );
    const { runs, endedAt } = await stream.stop();
    await until('every run ended', () => runStates(c.db), allEnded(runs), 60_000, c.output);
    await stopCleanly([frozen, other, ...workers]);
    await proxy.close();

    const figures = await faultReport(`SIGSTOP of a scheduler for ${FREEZE / 1000} s (${how})`, {
      db: c.db,
      dagId: DAG,
      runsExpected: runs,
      window: { from: frozenAt - 1_000, to: endedAt },
      runStartGap: true,
    });
    expectSound(figures, { pauseS: PAUSE_BOUND_S, runStartGapS: PAUSE_BOUND_S });
    const tasks = await taskInstances(c.db);
    expect(tasks.filter((t) => t.try_number !== 1).map((t) => [key(t), t.try_number])).toEqual([]);
    expect(exactlyOnce(tasks, await marks('effects', DAG))).toEqual([]);
  });
});
