/**
 * bench/footprint: what Updraft's own processes cost, with real `updraft` child processes
 * (test/support/process.ts):
 *
 * (cpu) Scheduler CPU time per finished task, for DAGs of 100, 1,000 and 10,000
 *   independent no-op tasks (BENCH_SIZES). One `updraft scheduler --no-execute` and one
 *   `updraft worker --concurrency 2` on a fresh PostgreSQL database, so that the
 *   scheduler's CPU is its own: user + system time of the scheduler process (every
 *   thread) from /proc/<pid>/stat, read before the first trigger and after the last run
 *   ended, divided by the task instances that finished. /proc counts in ticks of 10 ms,
 *   so a measurement covers about BENCH_CPU_TASKS tasks (default 10,000): runs of the
 *   DAG one after the other (100 runs of the 100-task DAG, 10 of the 1,000, 1 of the
 *   10,000), each triggered when the one before has ended (dag_runs polled every 10 ms
 *   on the bench's own connection). The worker's CPU and the PostgreSQL backends' (the
 *   bench's own connection left out) are printed beside it. A warm-up run of each DAG
 *   comes first (task threads import the files, the scheduler caches the DAGs); the sizes
 *   take turns, BENCH_RUNS times (default 3). The scheduler's idle CPU (its DAGs-folder
 *   poll, safety-net passes) is measured over BENCH_IDLE_MS (default 5 s) beforehand and
 *   printed, not subtracted. Goal (issue 8): flat from 100 to 10,000 tasks per DAG.
 *   BENCH_CPU_PROF=<dir> runs the scheduler and the worker with --cpu-prof into <dir> and
 *   summarises their main threads' samples inside the measured windows of each size
 *   (bench/lib/cpuprofile.ts); profiling costs CPU of its own (~60 ms per s per process
 *   here): take the figures from a run without it. The scheduler's and the worker's main
 *   threads (their JavaScript: /proc/<pid>/task/<pid>/stat) are printed apart from their
 *   other threads. BENCH_WIRE=1 also counts the scheduler's statements and transactions
 *   per run, through a counting proxy (bench/lib/wire-count.ts; slower). BENCH_DEBUG=1
 *   prints each measurement and the CPU of each of the scheduler's threads.
 *
 * (memory) Peak RSS of `updraft standalone` on the embedded PGlite database (UPDRAFT_HOME
 *   a temporary folder, UPDRAFT_PORT=0) with 100 DAGs of 10 tasks loaded (BENCH_DAGS,
 *   BENCH_DAG_TASKS; generated files, schedule @daily, paused at creation as by default,
 *   so no run): started, then /api/v1/dags polled until it lists them all, then
 *   BENCH_SETTLE_MS (default 5 s) of running; then VmHWM (the peak) and VmRSS of
 *   /proc/<pid>/status. PGlite (PostgreSQL in WebAssembly) runs inside that process, as do
 *   its task threads (2) and the spare DAG-parse thread. The first start on a new home
 *   also creates the database (PGlite's initdb and Updraft's migrations, in the process):
 *   standalone is then started again on the same home and measured again. For comparison,
 *   the same with no DAG, and the same 100 DAGs on PostgreSQL (DATABASE_URL: no PGlite in
 *   the process). A fresh home, database and folder each time, BENCH_RUNS times.
 *
 * BENCH_CASES=cpu,memory (default both). BENCH_JSON=<file> also writes the figures as
 * JSON (bench/lib/figures.ts). Linux only (/proc).
 *
 *   npm run bench:footprint
 *   BENCH_CASES=cpu BENCH_SIZES=100,1000 BENCH_CPU_TASKS=2000 BENCH_RUNS=1 npm run bench:footprint
 *   BENCH_CASES=cpu BENCH_SIZES=10000 BENCH_RUNS=1 BENCH_CPU_PROF=/tmp/prof npm run bench:footprint
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Db } from '../src/db/client.js';
import * as schema from '../src/db/schema.js';
import { triggerRun } from '../src/scheduler/runs.js';
import { makeDagFolder, type DagFolder } from '../test/support/dag-folder.js';
import { startUpdraft, stopAll, type UpdraftProcess } from '../test/support/process.js';
import { monotonicMicros, readProfile, summarizeProfile } from './lib/cpuprofile.js';
import { benchDatabase, type BenchDatabase } from './lib/database.js';
import { Figures } from './lib/figures.js';
import { machineBusy, machineLine, machineTicks, median } from './lib/machine.js';
import { sampleCpu } from './lib/trace.js';
import { countingProxy, type WireCounter, type WireCounts } from './lib/wire-count.js';

const list = (name: string, fallback: string) => {
  const values = (process.env[name] ?? fallback).split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1))
    throw new Error(`${name} must be positive integers separated by commas`);
  return values;
};
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CASES = new Set((process.env.BENCH_CASES ?? 'cpu,memory').split(',').map((c) => c.trim()));
const SIZES = list('BENCH_SIZES', '100,1000,10000');
const CPU_TASKS = Number(process.env.BENCH_CPU_TASKS ?? 10_000);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 5_000);
const PROFILE_DIR = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
const DAGS = Number(process.env.BENCH_DAGS ?? 100);
const DAG_TASKS = Number(process.env.BENCH_DAG_TASKS ?? 10);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 5_000);
const THREADS = 2;
const POLL_MS = 10;
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 180_000);
const DEBUG = Boolean(process.env.BENCH_DEBUG);
const WIRE = Boolean(process.env.BENCH_WIRE);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (values: number[], digits = 1) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
const MiB = 2 ** 20;

/** Polls `probe` every 50 ms until it holds; fails after TIMEOUT_MS with `context()`. */
async function until(what: string, probe: () => Promise<boolean>, context: () => string): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${TIMEOUT_MS} ms\n${context()}`);
    await sleep(50);
  }
}

/** CPU seconds (user + system, every thread) of one process so far, from /proc (ticks of 10 ms). */
async function cpuOf(pid: number): Promise<number> {
  return (await sampleCpu([pid])).postgres.get(pid) ?? Number.NaN;
}

/** CPU ms so far of each thread of a process (BENCH_DEBUG: which of the scheduler's threads). */
async function threadsCpu(pid: number): Promise<Map<number, number>> {
  const threads = new Map<number, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length > 13) threads.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * 10);
  }
  return threads;
}

/** CPU seconds so far of a process's main thread (its JavaScript), from /proc/<pid>/task/<pid>/stat. */
async function mainThreadCpu(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// ---------------------------------------------------------------- (cpu)

interface CpuMeasurement {
  size: number;
  runs: number;
  tasks: number;
  seconds: number;
  scheduler: number;
  /** The scheduler's main thread alone. */
  schedulerMain: number;
  worker: number;
  /** The worker's main thread alone (the rest: its task threads, GC, libuv). */
  workerMain: number;
  /** The scheduler's statements and transactions (BENCH_WIRE). */
  wire?: WireCounts;
  postgres: number;
  busy: string;
  window: [number, number];
}

const cpuDag = (size: number) => `import { dag } from 'updraft';
export default dag({ id: 'cpu_${size}', schedule: null, maxActiveTasks: ${size} }, (t) => {
  for (let i = 0; i < ${size}; i++) t.task('task_' + i, async () => undefined);
});
`;

async function cpuCase(): Promise<{
  measurements: CpuMeasurement[];
  idleMsPerS: number;
  database: string;
  profile?: string[];
}> {
  let folder: DagFolder | undefined;
  let bench: BenchDatabase | undefined;
  let monitor: pg.Client | undefined;
  let proxy: WireCounter | undefined;
  const processes: UpdraftProcess[] = [];
  try {
    folder = await makeDagFolder(Object.fromEntries(SIZES.map((size) => [`cpu_${size}.ts`, cpuDag(size)])));
    bench = await benchDatabase('postgres');
    const database = await bench.describe();
    const url = bench.env.DATABASE_URL!;
    const name = new URL(url).pathname.slice(1);
    await bench.database.close();
    if (PROFILE_DIR) await mkdir(PROFILE_DIR, { recursive: true });
    const env = {
      DATABASE_URL: url,
      UPDRAFT_DAGS_FOLDER: folder.path,
      UPDRAFT_HOME: path.join(folder.path, '.home'),
      UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false',
      UPDRAFT_LOG_LEVEL: 'warn',
    };
    proxy = WIRE ? await countingProxy(new URL(url)) : undefined;
    const schedulerEnv = proxy ? { ...env, DATABASE_URL: proxy.url(url) } : env;
    // NODE_OPTIONS may not hold --cpu-prof: profiled processes get it as node's own option.
    const nodeArgs = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
    const scheduler = startUpdraft(['scheduler', '--no-execute'], schedulerEnv, nodeArgs);
    processes.push(scheduler);
    const worker = startUpdraft(['worker', '--concurrency', String(THREADS)], env, nodeArgs);
    processes.push(worker);
    const output = () =>
      `--- scheduler (pid ${scheduler.pid}):\n${scheduler.output()}\n--- worker (pid ${worker.pid}):\n${worker.output()}`;
    await Promise.all(processes.map((p) => p.ready));

    // The bench's own connection (its backend left out of the PostgreSQL CPU): triggers and polls.
    monitor = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
    await monitor.connect();
    const client = monitor;
    const db = drizzle({ client, schema }) as unknown as Db;
    const ownPid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const backends = async () =>
      (
        await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> $2', [
          name,
          ownPid,
        ])
      ).rows.map((r) => r.pid);

    const ids = SIZES.map((size) => `cpu_${size}`);
    await until(
      'the DAGs parsed and unpaused',
      async () =>
        (
          await client.query<{ n: number }>(
            'select count(*)::int as n from dags where dag_id = any($1) and latest_version_id is not null and not is_paused',
            [ids],
          )
        ).rows[0]!.n === ids.length,
      output,
    );

    let dates = 0;
    /** Triggers a run of the DAG and waits for its end; returns its row id. */
    const runOnce = async (size: number): Promise<string> => {
      const run = await triggerRun(db, `cpu_${size}`, {
        actor: 'bench',
        logicalDate: new Date(Date.UTC(2026, 0, 1) + dates++ * 60_000),
      });
      const deadline = performance.now() + TIMEOUT_MS;
      for (;;) {
        const { rows } = await client.query<{ state: string }>('select state from dag_runs where id = $1', [run.id]);
        if (rows[0]!.state === 'success' || rows[0]!.state === 'failed') return run.id;
        if (performance.now() > deadline)
          throw new Error(`run of cpu_${size} did not end within ${TIMEOUT_MS} ms\n${output()}`);
        await sleep(POLL_MS);
      }
    };

    // Warm-up: each DAG once (task threads import the files; the scheduler caches the DAGs).
    for (const size of SIZES) await runOnce(size);

    const idleBefore = await cpuOf(scheduler.pid);
    const idleFrom = monotonicMicros();
    await sleep(IDLE_MS);
    const idleWindow: [number, number] = [idleFrom, monotonicMicros()];
    const idleMsPerS = (((await cpuOf(scheduler.pid)) - idleBefore) * 1000) / (IDLE_MS / 1000);

    const measurements: CpuMeasurement[] = [];
    for (let rep = 0; rep < RUNS; rep++) {
      for (const size of SIZES) {
        const runs = Math.max(1, Math.ceil(CPU_TASKS / size));
        const pids = [scheduler.pid, worker.pid, ...(await backends())];
        const ticks = await machineTicks();
        const before = await sampleCpu(pids);
        const mainBefore = await mainThreadCpu(scheduler.pid);
        const threadsBefore = DEBUG ? await threadsCpu(scheduler.pid) : undefined;
        const workerMainBefore = await mainThreadCpu(worker.pid);
        proxy?.reset();
        const from = monotonicMicros();
        const started = performance.now();
        const runIds: string[] = [];
        for (let i = 0; i < runs; i++) runIds.push(await runOnce(size));
        const seconds = (performance.now() - started) / 1000;
        const to = monotonicMicros();
        const after = await sampleCpu([...pids, ...(await backends())]);
        const schedulerMain = (await mainThreadCpu(scheduler.pid)) - mainBefore;
        const workerMain = (await mainThreadCpu(worker.pid)) - workerMainBefore;
        const wire = proxy?.counts();
        if (threadsBefore) {
          const deltas = [...(await threadsCpu(scheduler.pid))].map(
            ([tid, ms]) => `${tid === scheduler.pid ? 'main' : tid} ${ms - (threadsBefore.get(tid) ?? 0)}`,
          );
          console.log(`cpu_${size}: the scheduler's threads, CPU ms: ${deltas.join(', ')}`);
        }
        const busy = machineBusy(ticks, await machineTicks());
        const { rows } = await client.query<{ state: string; n: number }>(
          'select state, count(*)::int as n from task_instances where run_id = any($1::uuid[]) group by 1',
          [runIds],
        );
        const tasks = rows.filter((r) => r.state === 'success' || r.state === 'failed').reduce((a, r) => a + r.n, 0);
        if (tasks !== runs * size || rows.some((r) => r.state !== 'success')) {
          throw new Error(
            `cpu_${size}: task instances by state ${JSON.stringify(rows)}, expected ${runs * size} successes`,
          );
        }
        const of = (pid: number) => (after.postgres.get(pid) ?? 0) - (before.postgres.get(pid) ?? 0);
        let postgres = 0;
        for (const pid of after.postgres.keys()) if (pid !== scheduler.pid && pid !== worker.pid) postgres += of(pid);
        const m: CpuMeasurement = {
          size,
          runs,
          tasks,
          seconds,
          scheduler: of(scheduler.pid),
          schedulerMain,
          wire,
          worker: of(worker.pid),
          workerMain,
          postgres,
          busy,
          window: [from, to],
        };
        if (DEBUG) console.log(m);
        measurements.push(m);
      }
    }

    await client.end();
    monitor = undefined;
    const exits = await Promise.all(processes.map((p) => p.stop()));
    exits.forEach((e, i) => {
      if (e.code !== 0)
        console.log(`warning: ${i === 0 ? 'the scheduler' : 'the worker'} exited with ${e.signal ?? e.code}`);
    });

    let profile: string[] | undefined;
    if (PROFILE_DIR) {
      profile = [];
      const files = await readdir(PROFILE_DIR);
      for (const [what, pid] of [
        ['scheduler', scheduler.pid],
        ['worker', worker.pid],
      ] as const) {
        // The main thread's profile: CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile (thread 0).
        const mine = files.filter((f) => f.includes(`.${pid}.0.`) && f.endsWith('.cpuprofile'));
        if (mine.length === 0) {
          profile.push(`no profile of the ${what} (pid ${pid}) in ${PROFILE_DIR}`);
          continue;
        }
        const file = path.join(PROFILE_DIR, mine[0]!);
        const data = await readProfile(file);
        profile.push(`${what} CPU profile ${file} (main thread; the samples inside the measured windows):`);
        for (const size of SIZES) {
          const windows = measurements.filter((m) => m.size === size).map((m) => m.window);
          const inside = windows.every(([from, to]) => from >= data.startTime && to <= data.endTime);
          const summary = summarizeProfile(data, inside ? windows : undefined);
          const tasks = measurements.filter((m) => m.size === size).reduce((a, m) => a + m.tasks, 0);
          profile.push(
            `DAGs of ${size} tasks${inside ? '' : ' (windows outside the profile: the whole profile)'}: main thread busy ${(((summary.totalMs - summary.idleMs) * 1000) / tasks).toFixed(1)} µs per task`,
            ...summary.lines,
          );
        }
        if (what === 'scheduler')
          profile.push(`idle, no run (${IDLE_MS / 1000} s):`, ...summarizeProfile(data, [idleWindow], 10).lines);
      }
    }
    return { measurements, idleMsPerS, database, profile };
  } finally {
    await monitor?.end().catch(() => {});
    await Promise.all(processes.map((p) => p.stop()));
    await proxy?.close();
    await bench?.dispose();
    await folder?.cleanup();
  }
}

// ---------------------------------------------------------------- (memory)

interface MemoryMeasurement {
  variant: string;
  peakMiB: number;
  rssMiB: number;
  /** OS threads of the process (Node's own, its worker threads, PGlite has none of its own). */
  threads: number;
  /** From the start of the child to every DAG listed by the API. */
  loadedSeconds: number;
}

const memoryDag = (i: number) => `import { dag } from 'updraft';
export default dag({ id: 'dag_${String(i).padStart(3, '0')}', schedule: '@daily', startDate: '2026-01-01', tags: ['bench'] }, (t) => {
  const tasks = Array.from({ length: ${DAG_TASKS} }, (_, j) => t.task('task_' + j, async () => j));
  t.chain(...tasks);
});
`;

async function status(pid: number): Promise<{ peakMiB: number; rssMiB: number; threads: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    peakMiB: (kib('VmHWM') * 1024) / MiB,
    rssMiB: (kib('VmRSS') * 1024) / MiB,
    threads: Number(/^Threads:\s+(\d+)/m.exec(text)?.[1] ?? Number.NaN),
  };
}

/** Starts standalone with `env`, waits for the API to list `dags` DAGs and BENCH_SETTLE_MS more, reads its memory, stops it. */
async function measureStandalone(
  variant: string,
  env: Record<string, string>,
  dags: number,
): Promise<MemoryMeasurement> {
  const started = performance.now();
  const proc = startUpdraft(['standalone'], env);
  try {
    await proc.ready;
    const url = /web UI:\s+(http:\/\/\S+?)\/?\s/.exec(proc.output())?.[1];
    if (!url) throw new Error(`no web UI address in standalone's output:\n${proc.output()}`);
    let listed = -1;
    await until(
      `all ${dags} DAGs listed by the API`,
      async () => {
        const response = await fetch(`${url}/api/v1/dags?limit=1`);
        listed = response.ok ? ((await response.json()) as { total_entries: number }).total_entries : -1;
        return listed === dags;
      },
      () => `listed: ${listed}\n${proc.output()}`,
    );
    const loadedSeconds = (performance.now() - started) / 1000;
    await sleep(SETTLE_MS);
    const memory = await status(proc.pid);
    const exit = await proc.stop();
    if (exit.code !== 0) throw new Error(`standalone exited with ${exit.signal ?? exit.code}:\n${proc.output()}`);
    return { variant, ...memory, loadedSeconds };
  } finally {
    await proc.stop();
  }
}

/**
 * One fresh home (and database) and DAGs folder: standalone started on it, measured; with
 * `restart`, started and measured a second time on the same home (its database initialized
 * and the DAGs stored by the first start).
 */
async function standalone(
  variant: string,
  dags: number,
  driver: 'pglite' | 'postgres',
  restart = false,
): Promise<MemoryMeasurement[]> {
  let folder: DagFolder | undefined;
  let home: string | undefined;
  let bench: BenchDatabase | undefined;
  try {
    folder = await makeDagFolder(
      Object.fromEntries(
        Array.from({ length: dags }, (_, i) => [`dag_${String(i).padStart(3, '0')}.ts`, memoryDag(i)]),
      ),
    );
    home = await mkdtemp(path.join(os.tmpdir(), 'updraft-bench-home-'));
    const env: Record<string, string> = {
      UPDRAFT_HOME: home,
      UPDRAFT_DAGS_FOLDER: folder.path,
      UPDRAFT_PORT: '0',
      UPDRAFT_LOG_LEVEL: 'warn',
    };
    if (driver === 'postgres') {
      bench = await benchDatabase('postgres');
      await bench.database.close();
      env.DATABASE_URL = bench.env.DATABASE_URL!;
    }
    const first = await measureStandalone(variant, env, dags);
    return restart ? [first, await measureStandalone(`${variant}, restarted`, env, dags)] : [first];
  } finally {
    await bench?.dispose();
    if (home) await rm(home, { recursive: true, force: true });
    await folder?.cleanup();
  }
}

const PGLITE_DAGS = `PGlite, ${DAGS} DAGs`;
const PGLITE_RESTARTED = `${PGLITE_DAGS}, restarted`;
const PGLITE_EMPTY = 'PGlite, no DAG';
const POSTGRES_DAGS = `PostgreSQL, ${DAGS} DAGs`;

async function memoryCase(): Promise<MemoryMeasurement[]> {
  const measurements: MemoryMeasurement[] = [];
  for (let rep = 0; rep < RUNS; rep++) {
    measurements.push(...(await standalone(PGLITE_DAGS, DAGS, 'pglite', true)));
    measurements.push(...(await standalone(PGLITE_EMPTY, 0, 'pglite')));
    measurements.push(...(await standalone(POSTGRES_DAGS, DAGS, 'postgres')));
    if (DEBUG) console.log(measurements.slice(-4));
  }
  return measurements;
}

// ---------------------------------------------------------------- report

try {
  const settings: Record<string, string> = { runs: String(RUNS), cases: [...CASES].join(',') };
  if (CASES.has('cpu'))
    Object.assign(settings, {
      sizes: SIZES.join(','),
      'tasks per measurement': String(CPU_TASKS),
      'worker task threads': String(THREADS),
      driver: 'postgres',
    });
  if (CASES.has('memory'))
    Object.assign(settings, { dags: String(DAGS), 'tasks per DAG': String(DAG_TASKS), 'settle ms': String(SETTLE_MS) });
  const figures = new Figures('footprint', settings);
  const cpu = CASES.has('cpu') ? await cpuCase() : undefined;
  const memory = CASES.has('memory') ? await memoryCase() : undefined;

  console.log(`bench/footprint: ${RUNS} runs, median (min-max)`);
  console.log(machineLine());
  if (cpu) {
    console.log(`database: ${cpu.database}`);
    console.log(
      `(cpu) one 'updraft scheduler --no-execute' and one 'updraft worker --concurrency ${THREADS}', DAGs of independent no-op tasks, ~${CPU_TASKS} tasks per measurement ` +
        `(runs one after the other); CPU from /proc/<pid>/stat (10 ms ticks), first trigger -> last run ended. Scheduler idle: ${cpu.idleMsPerS.toFixed(1)} ms CPU per s (over ${IDLE_MS / 1000} s)`,
    );
    for (const size of SIZES) {
      const ms = cpu.measurements.filter((m) => m.size === size);
      const us = (f: (m: CpuMeasurement) => number) => ms.map((m) => (f(m) * 1e6) / m.tasks);
      const scheduler = us((m) => m.scheduler);
      figures.add(
        `scheduler_cpu_us_per_task_${size}`,
        `scheduler CPU per finished task, DAGs of ${size.toLocaleString('en-US')} independent no-op tasks`,
        'µs',
        scheduler,
      );
      console.log(
        `  ${String(size).padStart(6)} tasks per DAG, ${ms[0]!.runs} run${ms[0]!.runs > 1 ? 's' : ''} x ${size} = ${ms[0]!.tasks} tasks: scheduler ${fmt(scheduler)} µs/task` +
          `   (worker ${fmt(
            us((m) => m.worker),
            0,
          )}, PostgreSQL backends ${fmt(
            us((m) => m.postgres),
            0,
          )} µs/task; ${fmt(
            ms.map((m) => m.tasks / m.seconds),
            0,
          )} tasks/s; ` +
          `scheduler ${fmt(
            ms.map((m) => m.scheduler * 1000),
            0,
          )} ms CPU in ${fmt(
            ms.map((m) => m.seconds),
            2,
          )} s; machine busy ${ms.map((m) => m.busy).join(', ')})`,
      );
      console.log(
        `         scheduler's main thread ${fmt(us((m) => m.schedulerMain))} µs/task, its other threads (GC, libuv, the spare parse thread) ${fmt(us((m) => m.scheduler - m.schedulerMain))} µs/task` +
          `; worker's main thread ${fmt(
            us((m) => m.workerMain),
            0,
          )}, its other threads (task threads, GC, libuv) ${fmt(
            us((m) => m.worker - m.workerMain),
            0,
          )} µs/task` +
          (WIRE
            ? `; scheduler per run: ${fmt(ms.map((m) => m.wire!.statements / m.runs))} statements, ${fmt(ms.map((m) => m.wire!.transactions / m.runs))} transactions`
            : ''),
      );
    }
    // Scheduler CPU = runs x (per run) + tasks x (per task), least squares over every measurement.
    const xs = cpu.measurements;
    if (new Set(xs.map((m) => m.runs)).size > 1) {
      const s = (f: (m: CpuMeasurement) => number) => xs.reduce((a, m) => a + f(m), 0);
      const [rr, rt, tt, ry, ty] = [
        s((m) => m.runs * m.runs),
        s((m) => m.runs * m.tasks),
        s((m) => m.tasks * m.tasks),
        s((m) => m.runs * m.scheduler),
        s((m) => m.tasks * m.scheduler),
      ];
      const det = rr * tt - rt * rt;
      if (det !== 0) {
        const perRun = (ry * tt - ty * rt) / det;
        const perTask = (rr * ty - rt * ry) / det;
        console.log(
          `  fit over all measurements: scheduler CPU = ${(perRun * 1000).toFixed(2)} ms per run + ${(perTask * 1e6).toFixed(1)} µs per task`,
        );
      }
    }
    for (const line of cpu.profile ?? []) console.log(line);
  }
  if (memory) {
    console.log(
      `(memory) 'updraft standalone' (${os.availableParallelism()} task threads), UPDRAFT_PORT=0, ${DAG_TASKS}-task DAGs (paused): ` +
        `VmHWM (peak) and VmRSS from /proc/<pid>/status ${SETTLE_MS / 1000} s after the API listed every DAG`,
    );
    for (const variant of [...new Set(memory.map((m) => m.variant))]) {
      const ms = memory.filter((m) => m.variant === variant);
      console.log(
        `  ${variant.padEnd(30)} peak ${fmt(ms.map((m) => m.peakMiB))} MiB, RSS ${fmt(ms.map((m) => m.rssMiB))} MiB   (start -> DAGs listed ${fmt(
          ms.map((m) => m.loadedSeconds),
          2,
        )} s; ${ms[0]!.threads} threads)`,
      );
    }
    const peaks = (variant: string) => memory.filter((m) => m.variant === variant).map((m) => m.peakMiB);
    figures.add(
      'standalone_peak_rss_mib',
      `peak RSS of updraft standalone on PGlite with ${DAGS} DAGs of ${DAG_TASKS} tasks loaded (first start on a new home)`,
      'MiB',
      peaks(PGLITE_DAGS),
    );
    figures.add(
      'standalone_peak_rss_mib_restart',
      'the same, started again on that home (database initialized, DAGs stored)',
      'MiB',
      peaks(PGLITE_RESTARTED),
    );
    figures.add('standalone_peak_rss_mib_no_dags', 'the same with no DAG (first start)', 'MiB', peaks(PGLITE_EMPTY));
    figures.add(
      'standalone_peak_rss_mib_postgres',
      `the same ${DAGS} DAGs on PostgreSQL (no PGlite in the process)`,
      'MiB',
      peaks(POSTGRES_DAGS),
    );
  }
  await figures.write();
} finally {
  await stopAll();
}
