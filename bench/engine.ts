/**
 * bench/engine: the engine end to end, in one process (standalone's scheduler,
 * executor and task threads) on a fresh database:
 *   (a) a chain of 40 no-op tasks: seconds from trigger to the run's end;
 *   (b) one run of 10,000 independent no-op tasks: tasks per second;
 *   (c) from an upstream task's end to its downstream task's start (the chain's
 *       edges): p50 and p99.
 * Goals (issue 3, PostgreSQL, 2 cores): chain <= 0.2 s, >= 2,500 tasks/s, p50 <= 3 ms.
 *
 *   npm run bench:engine                         # PGlite
 *   BENCH_DRIVER=postgres npm run bench:engine   # a new database on the local PostgreSQL
 *   BENCH_RUNS=5 BENCH_WIDE_TASKS=20000 npm run bench:engine
 */
import { once } from 'node:events';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { execute, toDate } from '../src/db/execute.js';
import { Engine } from '../src/engine/engine.js';
import { createLogger } from '../src/log.js';
import { triggerRun } from '../src/scheduler/runs.js';
import { makeDagFolder } from '../test/support/dag-folder.js';
import { benchDatabase } from './lib/database.js';
import { machineLine, median } from './lib/machine.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CHAIN = Number(process.env.BENCH_CHAIN_TASKS ?? 40);
const WIDE = Number(process.env.BENCH_WIDE_TASKS ?? 10_000);

const folder = await makeDagFolder();
await folder.write(
  'chain.ts',
  `import { dag } from 'updraft';
export default dag({ id: 'bench_chain' }, (t) => {
  const tasks = Array.from({ length: ${CHAIN} }, (_, i) => t.task('step_' + i, async () => undefined));
  t.chain(...tasks);
});
`,
);
await folder.write(
  'wide.ts',
  `import { dag } from 'updraft';
export default dag({ id: 'bench_wide', maxActiveTasks: ${WIDE} }, (t) => {
  for (let i = 0; i < ${WIDE}; i++) t.task('task_' + i, async () => undefined);
});
`,
);

const bench = await benchDatabase();
const { database } = bench;
const config = loadConfig({ ...process.env, UPDRAFT_DAGS_FOLDER: folder.path, UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false', DATABASE_URL: '' });
const engine = new Engine(database, config, { processor: true, scheduler: true, executor: true }, createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn'));
await engine.start();
if (process.env.BENCH_DEBUG) engine.bus.on('task:state', (e) => console.log(e));

async function timedRun(dagId: string): Promise<{ runRowId: string; seconds: number }> {
  const started = performance.now();
  const finished = new Promise<string>((resolve) => {
    const onFinish = (run: { runRowId: string; dagId: string }) => {
      if (run.dagId !== dagId) return;
      engine.bus.off('run:finished', onFinish);
      resolve(run.runRowId);
    };
    engine.bus.on('run:finished', onFinish);
  });
  await triggerRun(database.db, dagId, { actor: 'bench', logicalDate: new Date(Date.now() + Math.random() * 1e6) });
  engine.bus.emit('runs');
  const runRowId = await finished;
  return { runRowId, seconds: (performance.now() - started) / 1000 };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const fmt = (values: number[], digits = 3) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;

try {
  // Warm-up: task threads import the DAG files once.
  await timedRun('bench_chain');

  const chainSeconds: number[] = [];
  const gapsMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { runRowId, seconds } = await timedRun('bench_chain');
    chainSeconds.push(seconds);
    const { rows } = await execute<{ task_id: string; started_at: string | Date; ended_at: string | Date }>(
      database.db,
      sql`select task_id, started_at, ended_at from task_instances where run_id = ${runRowId}`,
    );
    const byTask = new Map(rows.map((r) => [r.task_id, r]));
    for (let step = 1; step < CHAIN; step++) {
      const up = byTask.get(`step_${step - 1}`)!;
      const down = byTask.get(`step_${step}`)!;
      gapsMs.push(toDate(down.started_at).getTime() - toDate(up.ended_at).getTime());
    }
  }

  const wideRates: number[] = [];
  for (let i = 0; i < Math.max(1, Math.floor(RUNS / 2)); i++) {
    const { seconds } = await timedRun('bench_wide');
    wideRates.push(WIDE / seconds);
  }

  console.log(`bench/engine: ${RUNS} runs, median (min-max)`);
  console.log(machineLine({ 'task threads': String(config.concurrency) }));
  console.log(`database: ${await bench.describe()}`);
  console.log(`  (a) chain of ${CHAIN} no-op tasks, trigger to end:   ${fmt(chainSeconds)} s   goal <= 0.2 s`);
  console.log(`  (b) ${WIDE} independent no-op tasks in one run:   ${fmt(wideRates, 0)} tasks/s   goal >= 2500`);
  console.log(`  (c) upstream ended -> downstream started (${gapsMs.length} edges): p50 ${percentile(gapsMs, 50).toFixed(2)} ms, p99 ${percentile(gapsMs, 99).toFixed(2)} ms   goal p50 <= 3 ms`);
} finally {
  await engine.stop();
  await bench.dispose();
  await folder.cleanup();
}
