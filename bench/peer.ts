/**
 * bench/peer: graphile-worker, the fastest PostgreSQL job queue for Node, on the same
 * PostgreSQL as Updraft's benches: the bar Updraft's engine is compared against (issue 8).
 * Nothing of Updraft runs here; graphile-worker is a devDependency of this bench only.
 *
 * Each repetition of each figure gets a fresh database (updraft_bench_peer_<hex>, dropped
 * after) with graphile-worker's schema installed before anything is timed, in this one
 * process (its runner, its pool, and the bench's WorkerUtils for adding jobs):
 *   (a) drain, defaults: BENCH_PEER_JOBS (20,000) no-op jobs added first (WorkerUtils.addJobs,
 *       5,000 a call, not timed), then run() with graphile-worker's defaults (concurrentJobs 1,
 *       pollInterval 2000 ms, maxPoolSize 10, no local queue, no completion batching): from
 *       the run() call to no job left in graphile_worker._private_jobs (each job's
 *       'job:complete' event, then that table polled every 2 ms, since a completion is
 *       written after its event). Jobs/s = jobs / seconds, runner start-up included.
 *   (b) drain, batched: the same with the settings of graphile-worker's own perf test
 *       (perfTest/graphile.config.js in graphile/worker): concurrentJobs 24, maxPoolSize 25,
 *       localQueue { size: 500, refetchDelay: { durationMs: 10 } }, completeJobBatchDelay 0,
 *       failJobBatchDelay 0. Their perf test runs 4 such processes side by side
 *       (perfTest/run.js) and subtracts a start-up time; here it is one process, as Updraft's
 *       engine bench is, on a 2-core machine.
 *   (c) add-to-start latency: a runner with the defaults (it waits on LISTEN/NOTIFY, the
 *       2 s poll is only a fallback), one job added at a time (WorkerUtils.addJob): from just
 *       before addJob is called to the moment the task function starts (performance.now()
 *       in the same process); the next job is added once this one's task has started, as
 *       graphile-worker's own perfTest/latencyTest.js does (so a job may be found by the
 *       worker's fetch after its previous job rather than by the NOTIFY).
 *       BENCH_PEER_LATENCY_JOBS (300) jobs after 20 warm-up jobs; p50 and p99 per repetition.
 * graphile-worker's logger is silenced in all three (by default it prints a line per
 * completed job; its perf test turns that off too, with NO_LOG_SUCCESS). Each repetition
 * is listed with how busy the machine's cores were meanwhile (this process and PostgreSQL
 * included): on 2 cores, undisturbed repetitions were 50-70 % busy; 90-100 % means company.
 *
 *   npm run bench:peer                      # a new database per figure on BENCH_ADMIN_URL,
 *                                           # TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres
 *   BENCH_RUNS=5 BENCH_PEER_JOBS=50000 BENCH_PEER_LATENCY_JOBS=1000 npm run bench:peer
 *   BENCH_JSON=/tmp/peer.json npm run bench:peer
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { Logger, makeWorkerUtils, run, type Runner, type WorkerEvents, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { quoteIdent } from '../src/db/quote.js';
import { Figures } from './lib/figures.js';
import { machineBusy, machineLine, machineTicks, median } from './lib/machine.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const JOBS = Number(process.env.BENCH_PEER_JOBS ?? 20_000);
const LATENCY_JOBS = Number(process.env.BENCH_PEER_LATENCY_JOBS ?? 300);
const WARMUP_JOBS = 20;
const ADD_CHUNK = 5_000;
const POLL_MS = 2;
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 300_000);
const ADMIN_URL =
  process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const VERSION: string = (createRequire(import.meta.url)('graphile-worker/package.json') as { version: string }).version;

/** graphile-worker's perf test settings (perfTest/graphile.config.js), for (b). */
const BATCHED = {
  concurrentJobs: 24,
  maxPoolSize: 25,
  localQueue: { size: 500, refetchDelay: { durationMs: 10 } },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
} satisfies GraphileConfig.WorkerOptions;

const silent = new Logger(() => () => {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects after TIMEOUT_MS, so that a stuck measurement still reaches its finally. */
async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh database with graphile-worker's schema installed, handed to fn, dropped after. */
async function withDatabase<T>(fn: (url: string, utils: WorkerUtils) => Promise<T>): Promise<T> {
  const name = `updraft_bench_peer_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${quoteIdent(name)}`);
    try {
      const url = new URL(ADMIN_URL);
      url.pathname = `/${name}`;
      const utils = await makeWorkerUtils({ connectionString: url.toString(), logger: silent });
      try {
        await utils.migrate();
        return await fn(url.toString(), utils);
      } finally {
        await utils.release();
      }
    } finally {
      // Let the pools' connections close (up to 2 s) before the drop terminates them.
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where datname = $1',
          [name],
        );
        if (rows[0]!.n === 0) break;
        await sleep(10);
      }
      await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`);
    }
  } finally {
    await admin.end();
  }
}

/** Rejects if the runner stops (a fatal error) before the measurement is done. */
const stopped = (runner: Runner) => runner.promise.then(() => Promise.reject(new Error('the runner stopped early')));

interface Drain {
  seconds: number;
  /** From the run() call to the first job started. */
  startupMs: number;
  /** How busy the machine was meanwhile. */
  busy: string;
}

async function drain(settings: GraphileConfig.WorkerOptions): Promise<Drain> {
  return withDatabase(async (url, utils) => {
    for (let i = 0; i < JOBS; i += ADD_CHUNK) {
      await utils.addJobs(
        Array.from({ length: Math.min(ADD_CHUNK, JOBS - i) }, (_, j) => ({
          identifier: 'noop',
          payload: { i: i + j },
        })),
      );
    }
    const events = new EventEmitter() as WorkerEvents;
    let completed = 0;
    let firstStart = 0;
    const allCompleted = new Promise<void>((resolve, reject) => {
      events.on('job:start', () => {
        firstStart ||= performance.now();
      });
      events.on('job:complete', ({ job, error }) => {
        if (error) reject(new Error(`job ${job.id} failed: ${String(error)}`));
        else if (++completed === JOBS) resolve();
      });
    });
    let runner: Runner | undefined;
    try {
      const ticks = await machineTicks();
      const started = performance.now();
      runner = await run({
        taskList: { noop: async () => undefined },
        noHandleSignals: true,
        preset: { worker: { connectionString: url, logger: silent, events, ...settings } },
      });
      await withTimeout(Promise.race([allCompleted, stopped(runner)]), 'drain');
      // 'job:complete' is emitted before the completion is written: wait for the table to empty.
      const left = async () =>
        (
          await utils.withPgClient((client) =>
            client.query<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs'),
          )
        ).rows[0]!.n;
      const deadline = performance.now() + TIMEOUT_MS;
      while ((await left()) > 0) {
        if (performance.now() > deadline) throw new Error('drain: jobs left in the table');
        await sleep(POLL_MS);
      }
      const seconds = (performance.now() - started) / 1000;
      return { seconds, startupMs: firstStart - started, busy: machineBusy(ticks, await machineTicks()) };
    } finally {
      await runner?.stop();
    }
  });
}

async function latency(): Promise<{ latencies: number[]; busy: string }> {
  return withDatabase(async (url, utils) => {
    const waiting = new Map<number, (at: number) => void>();
    let runner: Runner | undefined;
    try {
      runner = await run({
        taskList: {
          latency: (payload) => {
            const at = performance.now();
            const { id } = payload as { id: number };
            waiting.get(id)?.(at);
          },
        },
        noHandleSignals: true,
        preset: { worker: { connectionString: url, logger: silent } },
      });
      const runnerStopped = stopped(runner);
      runnerStopped.catch(() => undefined);
      const latencies: number[] = [];
      let ticks: Awaited<ReturnType<typeof machineTicks>> = null;
      for (let id = -WARMUP_JOBS; id < LATENCY_JOBS; id++) {
        if (id === 0) ticks = await machineTicks();
        const started = new Promise<number>((resolve) => waiting.set(id, resolve));
        const before = performance.now();
        await utils.addJob('latency', { id });
        const at = await withTimeout(Promise.race([started, runnerStopped]), `latency job ${id}`);
        waiting.delete(id);
        if (id >= 0) latencies.push(at - before);
      }
      return { latencies, busy: machineBusy(ticks, await machineTicks()) };
    } finally {
      await runner?.stop();
    }
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function describePostgres(): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ name: string; setting: string }>(
      `select name, setting from pg_settings where name in ('server_version', 'shared_buffers', 'synchronous_commit', 'fsync', 'max_connections') order by name`,
    );
    return `PostgreSQL ${rows.map((r) => `${r.name}=${r.setting}`).join(' ')}`;
  } finally {
    await admin.end();
  }
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');
const fmtInt = (values: number[]) => `${int(median(values))} (${int(Math.min(...values))}-${int(Math.max(...values))})`;
const fmt = (values: number[], digits: number) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;

const defaultsLine = 'concurrentJobs 1, pollInterval 2000 ms, maxPoolSize 10, no local queue, no completion batching';
const batchedLine = `concurrentJobs ${BATCHED.concurrentJobs}, maxPoolSize ${BATCHED.maxPoolSize}, localQueue { size ${BATCHED.localQueue.size}, refetchDelay ${BATCHED.localQueue.refetchDelay.durationMs} ms }, completeJobBatchDelay ${BATCHED.completeJobBatchDelay}, failJobBatchDelay ${BATCHED.failJobBatchDelay}`;
const figures = new Figures('peer', {
  'graphile-worker': VERSION,
  jobs: String(JOBS),
  'latency jobs': String(LATENCY_JOBS),
  defaults: defaultsLine,
  batched: batchedLine,
  logger: 'silenced',
});

const defaults: Drain[] = [];
const batched: Drain[] = [];
const p50: number[] = [];
const p99: number[] = [];
const latencyBusy: string[] = [];
for (let i = 0; i < RUNS; i++) {
  defaults.push(await drain({}));
  batched.push(await drain(BATCHED));
  const { latencies, busy } = await latency();
  p50.push(percentile(latencies, 50));
  p99.push(percentile(latencies, 99));
  latencyBusy.push(busy);
  if (process.env.BENCH_DEBUG)
    console.log({
      defaults: defaults.at(-1),
      batched: batched.at(-1),
      p50: p50.at(-1),
      p99: p99.at(-1),
      max: Math.max(...latencies),
      busy,
    });
}

const rate = (drains: Drain[]) => drains.map((d) => JOBS / d.seconds);
const startup = (drains: Drain[]) =>
  `start-up ${fmt(
    drains.map((d) => d.startupMs),
    0,
  )} ms included`;
const each = (drains: Drain[]) =>
  `each run: ${drains.map((d) => `${int(JOBS / d.seconds)} jobs/s${d.busy && ` (machine ${d.busy} busy)`}`).join(', ')}`;
figures.add(
  'peer_drain_default_jobs_per_s',
  `graphile-worker ${VERSION}: ${int(JOBS)} no-op jobs drained, defaults`,
  'jobs/s',
  rate(defaults),
  true,
);
figures.add(
  'peer_drain_batched_jobs_per_s',
  `graphile-worker ${VERSION}: ${int(JOBS)} no-op jobs drained, its perf test's batching settings`,
  'jobs/s',
  rate(batched),
  true,
);
figures.add(
  'peer_latency_p50_ms',
  `graphile-worker ${VERSION}: addJob to task start, p50 of ${LATENCY_JOBS} sequential jobs`,
  'ms',
  p50,
);
figures.add(
  'peer_latency_p99_ms',
  `graphile-worker ${VERSION}: addJob to task start, p99 of ${LATENCY_JOBS} sequential jobs`,
  'ms',
  p99,
);

console.log(`bench/peer: ${RUNS} runs, each figure on a fresh database, median (min-max)`);
console.log(machineLine({ 'graphile-worker': VERSION, logger: 'silenced' }));
console.log(`database: ${await describePostgres()}`);
console.log(`  (a) drain ${int(JOBS)} no-op jobs, defaults (${defaultsLine}):`);
console.log(
  `      ${fmtInt(rate(defaults))} jobs/s   (${fmt(
    defaults.map((d) => d.seconds),
    2,
  )} s, ${startup(defaults)})`,
);
console.log(`      ${each(defaults)}`);
console.log(
  `  (b) drain ${int(JOBS)} no-op jobs, batched as graphile-worker's perf test, one process (${batchedLine}):`,
);
console.log(
  `      ${fmtInt(rate(batched))} jobs/s   (${fmt(
    batched.map((d) => d.seconds),
    2,
  )} s, ${startup(batched)})`,
);
console.log(`      ${each(batched)}`);
console.log(
  `  (c) addJob -> task started, ${LATENCY_JOBS} sequential jobs, defaults (LISTEN/NOTIFY): p50 ${fmt(p50, 2)} ms, p99 ${fmt(p99, 2)} ms`,
);
console.log(
  `      each run: ${p50.map((p, i) => `p50 ${p.toFixed(2)} ms, p99 ${p99[i]!.toFixed(2)} ms${latencyBusy[i] && ` (machine ${latencyBusy[i]} busy)`}`).join('; ')}`,
);
await figures.write();
