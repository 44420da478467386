/**
 * Fault injection: PostgreSQL itself goes away (test/support/fault-cluster.ts), on a
 * server of each test's own: restarting the shared one would break the other files.
 * Briefly (within the heartbeat timeout): every process reconnects and carries on. For
 * longer than the heartbeat timeout, after a crash (-m immediate) or an administrator's
 * restart (-m fast): results that finished during the outage are committed once it is
 * back, tries that were still running when their worker gave up run again without using
 * a try, and the processes log the outage without errors or stacks.
 */
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import {
  allEnded,
  cluster,
  exactlyOnce,
  key,
  marks,
  prelude,
  runStates,
  sleep,
  stopCleanly,
  taskInstances,
  trigger,
  until,
  useFaultCluster,
  type Mark,
} from '../support/fault-cluster.js';
import { expectSound, faultReport } from '../support/fault-report.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { stopAll } from '../support/process.js';

useFaultCluster();

const servers: { server: PrivatePostgres; database: Database }[] = [];
afterAll(async () => {
  await stopAll();
  for (const { server, database } of servers) {
    await database.close().catch(() => {});
    await server.destroy();
  }
});

async function privateServer(): Promise<{ server: PrivatePostgres; url: string; database: Database }> {
  const server = await startPrivatePostgres();
  await server.createDatabase('updraft');
  const url = server.url('updraft');
  const database = await openDatabase({ databaseUrl: url, home: server.scratch, onPoolError: () => {} });
  servers.push({ server, database });
  return { server, url, database };
}

describe('fault injection: PostgreSQL restarts', () => {
  it('mid-run: every process reconnects (LISTEN too) and carries on; nothing is lost or done twice', {
    timeout: 90_000,
  }, async () => {
    const DAG = 'fx_pg_restart';
    const RUNS = 12;
    // A server of this test's own: restarting the shared one would break the other files.
    const { server, url, database } = await privateServer();
    const c = await cluster(
      'pg_restart.ts',
      () => `${prelude(null, 150)}
export default dag({ id: '${DAG}', schedule: null, maxActiveRuns: ${RUNS} }, (t) => {
  const fan = Array.from({ length: 8 }, (_, i) => t.task('t' + i, work));
  t.task('first', work).then(fan);
  t.task('last', work).after(fan);
});
`,
      // The outage is well within the heartbeat timeout, so no try is given up; info: the reconnects are logged.
      { UPDRAFT_HEARTBEAT_TIMEOUT: '20s', UPDRAFT_LOG_LEVEL: 'info' },
      { url, db: database.db, home: server.scratch },
    );
    const processes = [
      c.start(['scheduler', '--no-execute']),
      c.start(['scheduler', '--no-execute']),
      c.start(['worker']),
      c.start(['worker']),
    ];
    await Promise.all(processes.map((p) => p.ready));
    await trigger(c.db, DAG, RUNS);
    await until(
      'work under way',
      async () => (await marks('effects', DAG)).length,
      (n) => n >= 15,
      30_000,
      c.output,
    );

    await server.stop();
    // Each process has noticed: its connections were ended by the shutdown.
    await Promise.all(processes.map((p) => p.waitFor(/cannot reach the database/)));
    // The outage (a fault's length, not a wait for an event): reconnect attempts fail meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await server.start();
    await Promise.all(
      processes.map((p) => p.waitFor(/the database is reachable again: listening again \(\d+ failed attempts/)),
    );

    await until(
      'every run ended',
      () => runStates(c.db).catch(() => ({ total: 0, ended: -1, success: 0 })),
      allEnded(RUNS),
      60_000,
      c.output,
    );
    // Each process listens again: one LISTEN connection per process.
    const listening = await until(
      'a LISTEN connection per process',
      async () =>
        (
          await execute<{ n: number }>(
            c.db,
            sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen %'`,
          )
        ).rows[0]!.n,
      (n) => n === processes.length,
      10_000,
      c.output,
    );
    expect(listening).toBe(processes.length);
    // The processes lived through it, and stop cleanly.
    await stopCleanly(processes);

    expectSound(
      await faultReport('PostgreSQL restart within the heartbeat timeout', {
        db: c.db,
        dagId: DAG,
        runsExpected: RUNS,
      }),
    );
    expect(await runStates(c.db)).toEqual({ total: RUNS, ended: RUNS, success: RUNS });
    const tasks = await taskInstances(c.db);
    expect(tasks).toHaveLength(RUNS * 10);
    expect(exactlyOnce(tasks, await marks('effects', DAG))).toEqual([]);
  });
});

describe.each(['immediate', 'fast'] as const)(
  'fault injection: PostgreSQL is down longer than the heartbeat timeout (stop -m %s)',
  (mode) => {
    // Heartbeat every 1 s, timeout 6 s: a worker gives its running tries up after 5 s of
    // silence (timeout less one interval), at least 4 s after the stop (its last beat may
    // be up to an interval old then). Tasks take 1-3 s, so some end during the outage
    // before that and some are still running then.
    const T = 6_000;
    const GIVE_UP_AFTER = T - 2_000;
    const RUNS = 6;

    it('commits what finished during the outage, runs again without using a try what was cut short, and logs it without errors', {
      timeout: 90_000,
    }, async () => {
      const DAG = `fx_outage_${mode}`;
      const { server, url, database } = await privateServer();
      const c = await cluster(
        `outage_${mode}.ts`,
        () => `${prelude(null, '1000 + Math.floor(Math.random() * 2000)')}
export default dag({ id: '${DAG}', schedule: null, maxActiveRuns: ${RUNS} }, (t) => {
  const fan = Array.from({ length: 6 }, (_, i) => t.task('t' + i, work));
  t.task('last', work).after(fan);
});
`,
        {
          UPDRAFT_HEARTBEAT_INTERVAL: '1s',
          UPDRAFT_HEARTBEAT_TIMEOUT: `${T / 1000}s`,
          UPDRAFT_LOG_LEVEL: 'info',
          UPDRAFT_CONCURRENCY: '4',
        },
        { url, db: database.db, home: server.scratch },
      );
      const processes = [
        c.start(['scheduler', '--no-execute']),
        c.start(['scheduler', '--no-execute']),
        c.start(['worker']),
        c.start(['worker']),
      ];
      await Promise.all(processes.map((p) => p.ready));
      await trigger(c.db, DAG, RUNS);
      await until(
        'work under way',
        async () => (await marks('effects', DAG)).length,
        (n) => n >= 6,
        30_000,
        c.output,
      );

      const stoppedAt = Date.now();
      await server.stop({ mode });
      // The outage (a fault's length): longer than the heartbeat timeout.
      await sleep(T + 3_000);
      const restartAt = Date.now();
      await server.start();
      console.info(`fault outage (-m ${mode}): restarted ${restartAt - stoppedAt} ms after the stop`);
      const restartMs = Date.now() - restartAt;
      console.info(
        `fault outage (-m ${mode}): PostgreSQL accepted connections ${restartMs} ms after pg_ctl start; down for ${Math.round((Date.now() - stoppedAt) / 100) / 10} s`,
      );
      await Promise.all(processes.map((p) => p.waitFor(/the database is reachable again/)));
      await until(
        'every run ended',
        () => runStates(c.db).catch(() => ({ total: 0, ended: -1, success: 0 })),
        allEnded(RUNS),
        60_000,
        c.output,
      );
      await stopCleanly(processes);

      expectSound(
        await faultReport(`PostgreSQL down ${(T + 3_000) / 1000} s (-m ${mode})`, {
          db: c.db,
          dagId: DAG,
          runsExpected: RUNS,
        }),
        { faulted: processes.map((p) => p.pid) },
      );
      expect(await runStates(c.db)).toEqual({ total: RUNS, ended: RUNS, success: RUNS });
      const tasks = await taskInstances(c.db);
      expect(tasks).toHaveLength(RUNS * 7);
      // Nothing used up a try: finished results were committed, cut-short tries handed back.
      expect(tasks.filter((t) => t.try_number !== 1).map((t) => [key(t), t.state, t.try_number])).toEqual([]);
      // Work is done once, except by tries the outage cut short: started before the restart
      // and not finished by the earliest moment a worker may have given up.
      const effects = await marks('effects', DAG);
      const finished = new Set(
        effects
          .filter((e) => e.at.getTime() < stoppedAt + GIVE_UP_AFTER)
          .map((e) => `${key(e)} ${e.try_number} ${e.pid}`),
      );
      const cutShort = new Set(
        (await marks('starts', DAG))
          .filter((s) => s.at.getTime() < restartAt + restartMs && !finished.has(`${key(s)} ${s.try_number} ${s.pid}`))
          .map(key),
      );
      const starts = await marks('starts', DAG);
      // Each problem with its task's starts and effects, in ms from the stop.
      const when = (k: string) =>
        [
          ...starts.filter((m) => key(m) === k).map((m) => ['start', m]),
          ...effects.filter((m) => key(m) === k).map((m) => ['effect', m]),
        ]
          .map(
            ([what, m]) =>
              `${what as string} try ${(m as Mark).try_number} pid ${(m as Mark).pid} at ${(m as Mark).at.getTime() - stoppedAt}`,
          )
          .join(', ');
      expect(
        exactlyOnce(tasks, effects, cutShort).map((problem) => `${problem} [${when(problem.split(' (')[0]!)}]`),
      ).toEqual([]);
      // Some results ended during the outage, and were kept.
      const duringOutage = effects.filter(
        (e) => e.at.getTime() > stoppedAt && e.at.getTime() < stoppedAt + GIVE_UP_AFTER,
      );
      expect(duringOutage.length).toBeGreaterThan(0);
      const kept = new Set(tasks.map((t) => `${key(t)} ${t.kept_try} ${t.pid}`));
      expect(
        duringOutage
          .filter((e) => !kept.has(`${key(e)} ${e.try_number} ${e.pid}`))
          .map((e) => `${key(e)} try ${e.try_number} pid ${e.pid}`),
      ).toEqual([]);

      // Logged as an outage: no error line, no failed query with its text or parameters, no stack.
      for (const p of processes) {
        const lines = p.output().split('\n');
        const bad = lines.filter(
          (l) =>
            l.includes('"level":50') ||
            l.includes('"level":60') ||
            l.includes('Failed query') ||
            l.includes('params:') ||
            l.includes('    at '),
        );
        expect({ pid: p.pid, bad }).toEqual({ pid: p.pid, bad: [] });
        expect(lines.some((l) => l.includes('cannot reach the database'))).toBe(true);
      }
    });
  },
);
