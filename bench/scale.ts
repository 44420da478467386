/**
 * bench/scale: scale-out with real processes on one PostgreSQL. One `updraft scheduler
 * --no-execute` and one or two `updraft worker --concurrency <threads>` child processes
 * (as deployed: DATABASE_URL, a DAGs folder), each measurement on a fresh database with
 * fresh processes:
 *   - tasks per second: BENCH_DAG_RUNS runs (default 3) of one DAG of BENCH_TASKS
 *     (default 2,000) independent no-op tasks, triggered at once; from the first trigger
 *     to the last run's ended_at (dag_runs is polled every 50 ms; ended_at is the
 *     database's clock, which on this machine is ours), finished task instances / seconds;
 *   - database transactions per finished task: xact_commit + xact_rollback of the bench
 *     database in pg_stat_database, before the trigger and after every process has
 *     stopped gracefully (a backend's counts reach pg_stat_database when it exits, or up to
 *     10 s after it went idle: PostgreSQL 15 flushes at most once a second and an idle
 *     backend's leftovers after 10 s). The bench's own transactions (its triggers and
 *     status reads) are subtracted; the processes' graceful stops are included (a few).
 *     These include the transactions a LISTENing backend runs to read the notification
 *     queue: PostgreSQL wakes every listener of the database at every NOTIFY, whatever
 *     the channel, and each wake-up is a transaction (so the bench polls, not LISTENs);
 *   - each worker's share of the tasks: each task returns its process's pid, so the XCom
 *     says which worker ran it (one XCom row per task: the tasks are not quite no-ops);
 *   - CPU seconds of each process (all its threads) and of the database's backends over
 *     the measured window, from /proc (Linux, PostgreSQL on this machine).
 *
 * Before the measured runs, a warm-up run makes every task thread import the DAG file
 * once (a live deployment has them warm): each worker also serves a queue of its own,
 * `warm_<i>`, and the warm-up DAG (in the same file) has tasks on each. Then the bench
 * waits BENCH_SETTLE_MS (default 10.5 s) so that the warm-up's transactions reach
 * pg_stat_database before it is read; BENCH_SETTLE_MS=0 for quick looks (transactions
 * then read a few dozen high).
 *
 * BENCH_WORKERS (default '1,2') and BENCH_CONCURRENCY (task threads per worker, default
 * '2,4') give the configurations, each measured BENCH_RUNS times (default 3), the
 * configurations taking turns. BENCH_POOL_SLOTS sets default_pool's slots (default: the
 * migration's 128, which caps the task instances queued or running at once across all
 * workers). BENCH_WIRE=1 also counts each process's statements and transactions through a
 * counting TCP proxy per process (bench/lib/wire-count.ts; every byte then takes a hop
 * through this process, so tasks/s read lower): the transactions the processes asked for,
 * without the listeners' wake-ups. BENCH_DEBUG=1 prints each measurement.
 *
 *   npm run bench:scale                   # a new database per measurement on BENCH_ADMIN_URL,
 *                                         # TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres
 *   BENCH_RUNS=1 BENCH_TASKS=300 BENCH_SETTLE_MS=0 npm run bench:scale
 *   BENCH_WIRE=1 BENCH_CONCURRENCY=2 BENCH_POOL_SLOTS=1000 npm run bench:scale
 */
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Db } from '../src/db/client.js';
import { execute } from '../src/db/execute.js';
import * as schema from '../src/db/schema.js';
import { triggerRun } from '../src/scheduler/runs.js';
import { makeDagFolder, type DagFolder } from '../test/support/dag-folder.js';
import { startUpdraft, stopAll, type UpdraftProcess } from '../test/support/process.js';
import { benchDatabase, type BenchDatabase } from './lib/database.js';
import { Figures } from './lib/figures.js';
import { machineBusy, machineLine, machineTicks, median } from './lib/machine.js';
import { sampleCpu, type CpuSample } from './lib/trace.js';
import { countingProxy, type WireCounter, type WireCounts } from './lib/wire-count.js';

const list = (name: string, fallback: string) => {
  const values = (process.env[name] ?? fallback).split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1))
    throw new Error(`${name} must be positive integers separated by commas`);
  return values;
};
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TASKS = Number(process.env.BENCH_TASKS ?? 2_000);
const DAG_RUNS = Number(process.env.BENCH_DAG_RUNS ?? 3);
const WORKERS = list('BENCH_WORKERS', '1,2');
const THREADS = list('BENCH_CONCURRENCY', '2,4');
const POOL_SLOTS = process.env.BENCH_POOL_SLOTS ? Number(process.env.BENCH_POOL_SLOTS) : undefined;
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 10_500);
const WIRE = Boolean(process.env.BENCH_WIRE);
const DEBUG = Boolean(process.env.BENCH_DEBUG);
const POLL_MS = 50;
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 120_000);
const ADMIN_URL =
  process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DAG_ID = 'bench_scale';
const WARM_ID = 'bench_scale_warm';
// Warm-up tasks per thread: the first of each thread imports the DAG file; they sleep so
// that a worker's threads take one each rather than one thread taking them all.
const WARM_PER_THREAD = 2;

interface Setup {
  workers: number;
  threads: number;
}

interface Measurement {
  seconds: number;
  tasks: number;
  /** Transactions of the Updraft processes in the bench database (the bench's own subtracted). */
  transactions: number;
  own: number;
  /** Tasks run by each worker, in the order they were started. */
  perWorker: number[];
  cpu: { scheduler: number; workers: number[]; postgres: number; bench: number };
  busy: string;
  wire?: { name: string; counts: WireCounts }[];
  problems: string[];
}

const source = (workers: number, threads: number) => `import { dag } from 'updraft';

// Measured: ${TASKS} independent tasks; each returns its process's pid, so its XCom says which worker ran it.
export default dag({ id: '${DAG_ID}', schedule: null, maxActiveRuns: ${DAG_RUNS}, maxActiveTasks: ${TASKS * DAG_RUNS} }, (t) => {
  for (let i = 0; i < ${TASKS}; i++) t.task('task_' + i, async () => ({ pid: process.pid }));
});

// Warm-up: ${WARM_PER_THREAD * threads} tasks on each worker's own queue, so that each task thread imports this file once.
export const warm = dag({ id: '${WARM_ID}', schedule: null, maxActiveTasks: ${workers * threads * WARM_PER_THREAD} }, (t) => {
  for (let w = 0; w < ${workers}; w++) {
    for (let i = 0; i < ${WARM_PER_THREAD * threads}; i++) {
      t.task('warm_' + w + '_' + i, { queue: 'warm_' + w }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return { pid: process.pid };
      });
    }
  }
});
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 50 ms until it holds; fails after TIMEOUT_MS with `context()`. */
async function until(what: string, probe: () => Promise<boolean>, context: () => string): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${TIMEOUT_MS} ms\n${context()}`);
    await sleep(50);
  }
}

/**
 * A connection of the bench to the bench database that counts its own transactions
 * (each statement outside BEGIN ... COMMIT is one, as is each COMMIT or ROLLBACK), so that
 * they can be subtracted from pg_stat_database's.
 */
async function countedClient(url: string): Promise<{ client: pg.Client; db: Db; transactions(): number }> {
  const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
  await client.connect();
  let transactions = 0;
  let inTransaction = false;
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const config = args[0] as string | { text?: string } | undefined;
    const text = (typeof config === 'string' ? config : (config?.text ?? '')).trim().toLowerCase();
    if (/^(begin|start transaction)\b/.test(text)) inTransaction = true;
    else if (/^(commit|rollback|end)\b/.test(text)) {
      inTransaction = false;
      transactions++;
    } else if (!inTransaction) transactions++;
    return original(...args);
  };
  return { client, db: drizzle({ client, schema }) as unknown as Db, transactions: () => transactions };
}

async function xacts(admin: pg.Client, name: string): Promise<number> {
  await admin.query('select pg_stat_clear_snapshot()');
  const { rows } = await admin.query<{ n: string }>(
    'select xact_commit + xact_rollback as n from pg_stat_database where datname = $1',
    [name],
  );
  return Number(rows[0]!.n);
}

/** The backends connected to database `name`, but for the one whose client is on local port `exceptPort`. */
async function backends(admin: pg.Client, name: string, exceptPort = -1): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    'select pid from pg_stat_activity where datname = $1 and client_port is distinct from $2',
    [name, exceptPort],
  );
  return rows.map((r) => r.pid);
}

/** pino lines at warn or above in a process's output after it started: what went wrong, if anything. */
function complaints(name: string, p: UpdraftProcess): string[] {
  const lines: string[] = [];
  for (const line of p.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string };
      if ((entry.level ?? 0) >= 40) lines.push(`${name}: ${entry.msg ?? line}`);
    } catch {
      // not a log line
    }
  }
  return lines;
}

async function measure(setup: Setup, admin: pg.Client): Promise<Measurement> {
  let folder: DagFolder | undefined;
  let bench: BenchDatabase | undefined;
  const proxies: WireCounter[] = [];
  const processes: UpdraftProcess[] = [];
  const clients: pg.Client[] = [];
  try {
    folder = await makeDagFolder({ 'scale.ts': source(setup.workers, setup.threads) });
    bench = await benchDatabase('postgres');
    const url = bench.env.DATABASE_URL!;
    const name = new URL(url).pathname.slice(1);
    if (POOL_SLOTS !== undefined)
      await execute(bench.database.db, sql`update pools set slots = ${POOL_SLOTS} where name = 'default_pool'`);
    // Its backends exit now, so its counts are in pg_stat_database long before the measurement.
    await bench.database.close();

    const names = ['scheduler', ...Array.from({ length: setup.workers }, (_, i) => `worker ${i + 1}`)];
    if (WIRE) for (const _ of names) proxies.push(await countingProxy(new URL(url)));
    const env = (i: number) => ({
      DATABASE_URL: WIRE ? proxies[i]!.url(url) : url,
      UPDRAFT_DAGS_FOLDER: folder!.path,
      UPDRAFT_HOME: `${folder!.path}/.home`,
      UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false',
      UPDRAFT_LOG_LEVEL: 'warn',
    });
    processes.push(startUpdraft(['scheduler', '--no-execute'], env(0)));
    for (let i = 0; i < setup.workers; i++) {
      processes.push(
        startUpdraft(
          ['worker', '--concurrency', String(setup.threads), '--queue', 'default', '--queue', `warm_${i}`],
          env(i + 1),
        ),
      );
    }
    const [scheduler, ...workers] = processes as [UpdraftProcess, ...UpdraftProcess[]];
    const output = () => processes.map((p, i) => `--- ${names[i]} (pid ${p.pid}):\n${p.output()}`).join('\n');
    await Promise.all(processes.map((p) => p.ready));

    // Setup on a connection of its own, closed (its counts flushed) before the measurement.
    const setupConnection = await countedClient(url);
    clients.push(setupConnection.client);
    const { db: setupDb, client: setupClient } = setupConnection;
    const setupPid = (await setupClient.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const ended = async (dagId: string) =>
      (
        await setupClient.query<{ ended: number }>(
          `select count(*) filter (where r.state in ('success', 'failed'))::int as ended from dag_runs r join dags d on d.id = r.dag_id where d.dag_id = $1`,
          [dagId],
        )
      ).rows[0]!.ended;
    await until(
      'both DAGs parsed and unpaused',
      async () =>
        (
          await setupClient.query<{ n: number }>(
            `select count(*)::int as n from dags where dag_id in ($1, $2) and latest_version_id is not null and not is_paused`,
            [DAG_ID, WARM_ID],
          )
        ).rows[0]!.n === 2,
      output,
    );
    await triggerRun(setupDb, WARM_ID, { actor: 'bench', logicalDate: new Date(Date.UTC(2025, 0, 1)) });
    await until('the warm-up run ended', async () => (await ended(WARM_ID)) === 1, output);
    const { rows: warmPids } = await setupClient.query<{ pid: number; n: number }>(
      `select (x.value->>'pid')::int as pid, count(*)::int as n from xcom x join task_instances ti on ti.id = x.task_instance_id
         join dags d on d.id = ti.dag_id where d.dag_id = $1 group by 1`,
      [WARM_ID],
    );
    const warmed = new Set(warmPids.map((r) => r.pid));
    if (workers.some((w) => !warmed.has(w.pid)))
      throw new Error(`the warm-up did not reach every worker: ${JSON.stringify(warmPids)}\n${output()}`);
    await setupClient.end();
    await until('the setup connection gone', async () => !(await backends(admin, name)).includes(setupPid), output);
    await sleep(SETTLE_MS);

    // The measurement's own connection: connected now, used only from here on. It polls
    // rather than LISTENs: a listener would add a transaction to every NOTIFY (see the top).
    const monitor = await countedClient(url);
    clients.push(monitor.client);
    const before = await xacts(admin, name);
    const ownBefore = monitor.transactions();
    for (const proxy of proxies) proxy.reset();
    const pids = [scheduler.pid, ...workers.map((w) => w.pid)];
    // The database's backends but the bench's own (known by its port, without a statement on the bench database).
    const monitorPort = (monitor.client as unknown as { connection: { stream: { localPort: number } } }).connection
      .stream.localPort;
    const cpuBefore: CpuSample = await sampleCpu([...pids, ...(await backends(admin, name, monitorPort))]);
    const ticks = await machineTicks();

    // The end is the last run's ended_at (the database's clock, on this machine as ours is):
    // the poll only says that it has come.
    const started = Date.now();
    for (let i = 0; i < DAG_RUNS; i++)
      await triggerRun(monitor.db, DAG_ID, {
        actor: 'bench',
        logicalDate: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
      });
    let endedAt: number;
    for (;;) {
      const { rows } = await monitor.client.query<{ ended: number; last: string | null }>(
        `select count(*) filter (where r.state in ('success', 'failed'))::int as ended, extract(epoch from max(r.ended_at)) * 1000 as last
           from dag_runs r join dags d on d.id = r.dag_id where d.dag_id = $1`,
        [DAG_ID],
      );
      if (rows[0]!.ended >= DAG_RUNS) {
        endedAt = Number(rows[0]!.last);
        break;
      }
      if (Date.now() > started + TIMEOUT_MS)
        throw new Error(`the runs did not end within ${TIMEOUT_MS} ms\n${output()}`);
      await sleep(POLL_MS);
    }
    const seconds = (endedAt - started) / 1000;
    const busy = machineBusy(ticks, await machineTicks());
    const cpuAfter = await sampleCpu([...pids, ...(await backends(admin, name, monitorPort))]);
    const own = monitor.transactions() - ownBefore;
    await monitor.client.end();

    // Stopped gracefully, every backend's counts reach pg_stat_database as it exits.
    const exits = await Promise.all(processes.map((p) => p.stop()));
    const problems = processes.flatMap((p, i) => complaints(names[i]!, p));
    for (const [i, e] of exits.entries())
      if (e.code !== 0) problems.push(`${names[i]} exited with ${e.signal ?? e.code}`);
    await until(
      'every connection to the bench database closed',
      async () => (await backends(admin, name)).length === 0,
      output,
    );
    // Wait until the counter stops moving (a backend's last flush can trail its exit).
    let after = await xacts(admin, name);
    for (let settled = 0; settled < 3; ) {
      await sleep(100);
      const now = await xacts(admin, name);
      settled = now === after ? settled + 1 : 0;
      after = now;
    }
    const wire = WIRE ? proxies.map((p, i) => ({ name: names[i]!, counts: p.counts() })) : undefined;

    // Checked after the counts were read, on a connection of its own.
    const check = new pg.Client({ connectionString: url });
    clients.push(check);
    await check.connect();
    const { rows: states } = await check.query<{ state: string | null; n: number }>(
      `select ti.state, count(*)::int as n from task_instances ti join dags d on d.id = ti.dag_id where d.dag_id = $1 group by 1`,
      [DAG_ID],
    );
    const finished = states.filter((s) => s.state === 'success' || s.state === 'failed').reduce((a, s) => a + s.n, 0);
    if (finished !== TASKS * DAG_RUNS || states.some((s) => s.state !== 'success')) {
      problems.push(`task instances by state: ${states.map((s) => `${s.state ?? 'none'} ${s.n}`).join(', ')}`);
    }
    const { rows: byPid } = await check.query<{ pid: number; n: number }>(
      `select (x.value->>'pid')::int as pid, count(*)::int as n from xcom x join task_instances ti on ti.id = x.task_instance_id
         join dags d on d.id = ti.dag_id where d.dag_id = $1 group by 1`,
      [DAG_ID],
    );
    await check.end();
    const perWorker = workers.map((w) => byPid.find((r) => r.pid === w.pid)?.n ?? 0);
    const strangers = byPid.filter((r) => !workers.some((w) => w.pid === r.pid));
    if (strangers.length > 0) problems.push(`tasks run by no worker of this bench: ${JSON.stringify(strangers)}`);

    const cpuOf = (pid: number) => (cpuAfter.postgres.get(pid) ?? 0) - (cpuBefore.postgres.get(pid) ?? 0);
    let postgres = 0;
    for (const pid of cpuAfter.postgres.keys()) if (!pids.includes(pid)) postgres += cpuOf(pid);
    return {
      seconds,
      tasks: finished,
      transactions: after - before - own,
      own,
      perWorker,
      cpu: {
        scheduler: cpuOf(scheduler.pid),
        workers: workers.map((w) => cpuOf(w.pid)),
        postgres,
        bench: cpuAfter.node - cpuBefore.node,
      },
      busy,
      wire,
      problems,
    };
  } finally {
    // Whatever happened: every process stopped (SIGTERM, then SIGKILL after 20 s), every connection closed, the database dropped.
    await Promise.all(processes.map((p) => p.stop()));
    for (const client of clients) await client.end().catch(() => {});
    for (const proxy of proxies) await proxy.close();
    await bench?.dispose();
    await folder?.cleanup();
  }
}

const fmt = (values: number[], digits = 3) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
const int = (value: number) => Math.round(value).toLocaleString('en-US');
const fmtInt = (values: number[]) => `${int(median(values))} (${int(Math.min(...values))}-${int(Math.max(...values))})`;
const pct = (values: number[]) =>
  `${Math.round(median(values))}% (${Math.round(Math.min(...values))}-${Math.round(Math.max(...values))})`;

const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();
try {
  const setups: Setup[] = THREADS.flatMap((threads) => WORKERS.map((workers) => ({ workers, threads })));
  const results = new Map<Setup, Measurement[]>(setups.map((s) => [s, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const setup of setups) {
      const m = await measure(setup, admin);
      results.get(setup)!.push(m);
      if (DEBUG) console.log(setup, m);
    }
  }

  // Described on a database of its own: the measured ones are gone.
  const described = await benchDatabase('postgres');
  const database = await described.describe().finally(() => described.dispose());

  console.log(
    `bench/scale: ${RUNS} runs per configuration, each on a fresh database with fresh processes, median (min-max)`,
  );
  console.log(
    machineLine({
      scheduler: '1 (--no-execute)',
      'task threads per worker': THREADS.join(', '),
      'tasks per run': String(TASKS),
      runs: String(DAG_RUNS),
      'default_pool slots': POOL_SLOTS === undefined ? '128 (default)' : String(POOL_SLOTS),
    }),
  );
  console.log(`database: ${database}`);
  const figures = new Figures('scale', {
    'tasks per run': String(TASKS),
    runs: String(DAG_RUNS),
    'default_pool slots': POOL_SLOTS === undefined ? '128' : String(POOL_SLOTS),
  });
  console.log(
    `measured: first trigger -> the last run's ended_at (dag_runs polled every ${POLL_MS} ms); transactions: pg_stat_database xact_commit + xact_rollback, ` +
      `before the trigger (${SETTLE_MS / 1000} s after the warm-up) and after a graceful stop, the bench's own subtracted${WIRE ? '; BENCH_WIRE: through counting proxies (slower)' : ''}`,
  );
  for (const setup of setups) {
    const ms = results.get(setup)!;
    const rates = ms.map((m) => m.tasks / m.seconds);
    const name = `${setup.workers} worker${setup.workers > 1 ? 's' : ''} x ${setup.threads} threads`;
    figures.add(`scale_${setup.workers}x${setup.threads}_tasks_per_s`, `${name}: tasks/s`, 'tasks/s', rates, true);
    figures.add(
      `scale_${setup.workers}x${setup.threads}_transactions_per_task`,
      `${name}: database transactions per task`,
      'transactions',
      ms.map((m) => m.transactions / m.tasks),
    );
    console.log(`  ${name}, ${int(ms[0]!.tasks)} tasks:`);
    console.log(
      `      tasks/s:                   ${fmtInt(rates)}   (${fmt(
        ms.map((m) => m.seconds),
        2,
      )} s)`,
    );
    console.log(
      `      transactions per task:     ${fmt(ms.map((m) => m.transactions / m.tasks))}   (${fmtInt(ms.map((m) => m.transactions))} transactions; the bench's own ${fmtInt(ms.map((m) => m.own))} subtracted)`,
    );
    if (setup.workers > 1) {
      const shares = Array.from(
        { length: setup.workers },
        (_, w) => `worker ${w + 1} ${pct(ms.map((m) => (100 * m.perWorker[w]!) / m.tasks))}`,
      );
      console.log(
        `      share of tasks:            ${shares.join(', ')}   (each run: ${ms.map((m) => m.perWorker.join(' / ')).join(', ')})`,
      );
    }
    const workerCpu = Array.from({ length: setup.workers }, (_, w) =>
      fmt(
        ms.map((m) => m.cpu.workers[w]!),
        2,
      ),
    ).join(' + ');
    console.log(
      `      CPU s:                     scheduler ${fmt(
        ms.map((m) => m.cpu.scheduler),
        2,
      )}, worker${setup.workers > 1 ? 's' : ''} ${workerCpu}, ` +
        `PostgreSQL backends ${fmt(
          ms.map((m) => m.cpu.postgres),
          2,
        )}, bench ${fmt(
          ms.map((m) => m.cpu.bench),
          2,
        )}; machine busy ${ms.map((m) => m.busy).join(', ')}`,
    );
    if (WIRE) {
      const parts = ms[0]!.wire!.map((_, p) => {
        const of = (key: 'statements' | 'transactions') => fmt(ms.map((m) => m.wire![p]!.counts[key] / m.tasks));
        return `${ms[0]!.wire![p]!.name} ${of('statements')} statements, ${of('transactions')} transactions`;
      });
      console.log(`      per task, by process:      ${parts.join('; ')}`);
      const asked = (m: Measurement) => m.wire!.reduce((a, w) => a + w.counts.transactions, 0);
      console.log(
        `      not asked for by any process (NOTIFY wake-ups of listeners, new connections): ${fmt(ms.map((m) => (m.transactions - asked(m)) / m.tasks))} per task`,
      );
      const errors = ms.flatMap((m) =>
        m.wire!.filter((w) => w.counts.errors > 0).map((w) => `${w.name} ${w.counts.errors}`),
      );
      if (errors.length > 0) console.log(`      statements refused (ErrorResponse): ${errors.join(', ')}`);
    }
    const problems = ms.flatMap((m, i) => m.problems.map((p) => `run ${i + 1}: ${p}`));
    if (problems.length > 0) console.log(`      problems:\n${problems.map((p) => `        ${p}`).join('\n')}`);
  }
  for (const threads of THREADS) {
    const one = results.get(setups.find((s) => s.threads === threads && s.workers === 1)!);
    for (const setup of setups.filter((s) => s.threads === threads && s.workers > 1)) {
      if (!one) continue;
      const rate = (ms: Measurement[]) => median(ms.map((m) => m.tasks / m.seconds));
      console.log(
        `  ${setup.workers} workers / 1 worker at ${threads} threads each: x${(rate(results.get(setup)!) / rate(one)).toFixed(2)} tasks/s`,
      );
    }
  }
  await figures.write();
} finally {
  await stopAll();
  await admin.end();
}
