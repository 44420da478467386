/**
 * bench/engine: the engine end to end, in one process (standalone's scheduler,
 * executor and task threads) on a fresh database:
 *   (a) a chain of 40 no-op tasks: seconds from trigger to the run's end (the engine's
 *       'run:finished' event);
 *   (b) one run of 20,000 independent no-op tasks: tasks per second (trigger to
 *       'run:finished');
 *   (c) from an upstream task's end to its downstream task's start, over the chain's
 *       edges: p50 and p99 of each run's 39 edges. Both times are the executor's: a
 *       task instance's ended_at and started_at as stored in task_instances, which the
 *       executor sets from its own clock (Date.now(), whole milliseconds) when the try's
 *       outcome reaches its main thread and when the task thread reports the try started.
 *       So an edge is: upstream outcome received -> completion committed (with the
 *       downstream task claimed in the same transaction) -> posted to a task thread ->
 *       downstream try started. Not the bus's events, not the database's clock.
 * Before the measured runs, a warm-up makes every task thread import both DAG files
 * (a chain run, and a small DAG in the wide DAG's file whose tasks sleep 50 ms so that
 * each thread takes some), as a running engine has them.
 * Goals (issue 3, PostgreSQL, 2 cores): chain <= 0.2 s, >= 2,500 tasks/s, p50 <= 3 ms.
 * Each figure is the median (min-max) of BENCH_RUNS runs (default 3); BENCH_JSON=<file>
 * also writes them as JSON (bench/lib/figures.ts).
 *
 *   npm run bench:engine                         # PGlite
 *   BENCH_DRIVER=postgres npm run bench:engine   # a new database on the local PostgreSQL
 *   BENCH_RUNS=5 BENCH_WIDE_TASKS=10000 npm run bench:engine
 */
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { execute, toDate } from '../src/db/execute.js';
import { Engine } from '../src/engine/engine.js';
import { createLogger } from '../src/log.js';
import { triggerRun } from '../src/scheduler/runs.js';
import { makeDagFolder, type DagFolder } from '../test/support/dag-folder.js';
import { benchDatabase, benchDriver, type BenchDatabase } from './lib/database.js';
import { Figures } from './lib/figures.js';
import { machineLine, median } from './lib/machine.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CHAIN = Number(process.env.BENCH_CHAIN_TASKS ?? 40);
const WIDE = Number(process.env.BENCH_WIDE_TASKS ?? 20_000);
const WARM_TASKS = 8;

const chainSource = `import { dag } from 'updraft';
export default dag({ id: 'bench_chain' }, (t) => {
  const tasks = Array.from({ length: ${CHAIN} }, (_, i) => t.task('step_' + i, async () => undefined));
  t.chain(...tasks);
});
`;
const wideSource = `import { dag } from 'updraft';
export default dag({ id: 'bench_wide', maxActiveTasks: ${WIDE} }, (t) => {
  for (let i = 0; i < ${WIDE}; i++) t.task('task_' + i, async () => undefined);
});
// Warm-up: each task thread imports this file once, before the measured runs.
export const warm = dag({ id: 'bench_wide_warm', maxActiveTasks: ${WARM_TASKS} }, (t) => {
  for (let i = 0; i < ${WARM_TASKS}; i++) t.task('warm_' + i, async () => new Promise((resolve) => setTimeout(resolve, 50)));
});
`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const fmt = (values: number[], digits = 3) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;

let folder: DagFolder | undefined;
let bench: BenchDatabase | undefined;
let engine: Engine | undefined;
try {
  folder = await makeDagFolder({ 'chain.ts': chainSource, 'wide.ts': wideSource });
  bench = await benchDatabase();
  const { database } = bench;
  const config = loadConfig({
    ...process.env,
    UPDRAFT_DAGS_FOLDER: folder.path,
    UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false',
    DATABASE_URL: '',
  });
  const started = new Engine(
    database,
    config,
    { processor: true, scheduler: true, executor: true },
    createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn'),
  );
  engine = started;
  await started.start();
  if (process.env.BENCH_DEBUG) started.bus.on('task:state', (e) => console.log(e));

  const timedRun = async (dagId: string): Promise<{ runRowId: string; seconds: number }> => {
    const begun = performance.now();
    const finished = new Promise<string>((resolve) => {
      const onFinish = (run: { runRowId: string; dagId: string }) => {
        if (run.dagId !== dagId) return;
        started.bus.off('run:finished', onFinish);
        resolve(run.runRowId);
      };
      started.bus.on('run:finished', onFinish);
    });
    await triggerRun(database.db, dagId, { actor: 'bench', logicalDate: new Date(Date.now() + Math.random() * 1e6) });
    started.bus.emit('runs');
    const runRowId = await finished;
    return { runRowId, seconds: (performance.now() - begun) / 1000 };
  };

  // Warm-up: task threads import the DAG files once.
  await timedRun('bench_chain');
  await timedRun('bench_wide_warm');

  const chainSeconds: number[] = [];
  const gapsMs: number[] = [];
  const p50s: number[] = [];
  const p99s: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { runRowId, seconds } = await timedRun('bench_chain');
    chainSeconds.push(seconds);
    const { rows } = await execute<{ task_id: string; started_at: string | Date; ended_at: string | Date }>(
      database.db,
      sql`select task_id, started_at, ended_at from task_instances where run_id = ${runRowId}`,
    );
    const byTask = new Map(rows.map((r) => [r.task_id, r]));
    const gaps: number[] = [];
    for (let step = 1; step < CHAIN; step++) {
      const up = byTask.get(`step_${step - 1}`)!;
      const down = byTask.get(`step_${step}`)!;
      gaps.push(toDate(down.started_at).getTime() - toDate(up.ended_at).getTime());
    }
    gapsMs.push(...gaps);
    p50s.push(percentile(gaps, 50));
    p99s.push(percentile(gaps, 99));
  }

  const wideRates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { seconds } = await timedRun('bench_wide');
    wideRates.push(WIDE / seconds);
  }

  const settings = {
    driver: benchDriver(),
    runs: String(RUNS),
    'task threads': String(config.concurrency),
    'chain tasks': String(CHAIN),
    'wide tasks': String(WIDE),
  };
  const figures = new Figures('engine', settings);
  figures.add('chain_seconds', `chain of ${CHAIN} no-op tasks, trigger to the run's end`, 's', chainSeconds);
  figures.add(
    'wide_tasks_per_s',
    `one run of ${WIDE.toLocaleString('en-US')} independent no-op tasks`,
    'tasks/s',
    wideRates,
    true,
  );
  figures.add(
    'latency_p50_ms',
    `upstream ended -> downstream started (executor's clock, task_instances), p50 of each run's ${CHAIN - 1} chain edges`,
    'ms',
    p50s,
  );
  figures.add(
    'latency_p99_ms',
    `upstream ended -> downstream started (executor's clock, task_instances), p99 of each run's ${CHAIN - 1} chain edges`,
    'ms',
    p99s,
  );

  console.log(`bench/engine: ${RUNS} runs, median (min-max)`);
  console.log(machineLine({ 'task threads': String(config.concurrency) }));
  console.log(`database: ${await bench.describe()}`);
  console.log(`  (a) chain of ${CHAIN} no-op tasks, trigger to end:   ${fmt(chainSeconds)} s   goal <= 0.2 s`);
  console.log(`  (b) ${WIDE} independent no-op tasks in one run:   ${fmt(wideRates, 0)} tasks/s   goal >= 2500`);
  console.log(
    `  (c) upstream ended -> downstream started (task_instances' ended_at/started_at, the executor's clock in whole ms), per run of ${CHAIN - 1} edges: ` +
      `p50 ${fmt(p50s, 0)} ms, p99 ${fmt(p99s, 0)} ms; all ${gapsMs.length} edges: p50 ${percentile(gapsMs, 50).toFixed(0)} ms, p99 ${percentile(gapsMs, 99).toFixed(0)} ms   goal p50 <= 3 ms`,
  );
  await figures.write();
} finally {
  await engine?.stop();
  await bench?.dispose();
  await folder?.cleanup();
}
