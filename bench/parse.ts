/**
 * bench/parse: generate a DAG file of 10,000 tasks (one line per task and per
 * dependency, ~1 MB of source), parse it the way the DAG processor does (a fresh
 * worker thread, tsx import, validation, serialization) and store it, printing
 * where the time goes. Goal (issue 2): <= 1 s in total.
 *
 * Then plan a run of it: the time from triggerRun (the manual trigger, as the API's)
 * to the run started with its root tasks scheduled, i.e. its 10,000 task instances
 * created (100 roots scheduled, the rest waiting). An Engine with the scheduler role
 * only (no processor, no executor, no scheduled runs) in this process does it, woken by
 * the trigger's NOTIFY and the bus's 'runs'; the end is the first 'task:state'
 * 'scheduled' event of the run, which the scheduler emits right after the transaction
 * that inserted the task instances and moved the run to running commits. Each parse
 * stores a new DAG version, so each repetition plans twice: the first run of the new
 * version (cold: the scheduler reads and shapes the stored version first) and a second
 * run (warm: the version is in the scheduler's DAG cache, as for every run after the
 * first). Planned runs are then set to failed by the bench, so they do not count against
 * maxActiveRuns (nothing executes their tasks).
 *
 * BENCH_TRACE=1 (PostgreSQL) prints the transactions and statements of the last warm plan
 * by total time (bench/lib/trace.ts): where a plan's time goes.
 *
 * Each figure is the median (min-max) of BENCH_RUNS repetitions (default 3);
 * BENCH_JSON=<file> also writes them as JSON (bench/lib/figures.ts).
 *
 * The processor keeps one parse thread started ahead, so a changed file does not
 * wait for a thread to load tsx and Updraft; that start-up is printed on its own
 * (coldThreadStartMs) and each timed run begins with a ready thread, as in a
 * running scheduler.
 *
 *   npm run bench:parse                         # embedded PGlite in a temp dir
 *   BENCH_DRIVER=postgres npm run bench:parse   # a new database on the local PostgreSQL (BENCH_ADMIN_URL)
 *   BENCH_TASKS=1000 BENCH_RUNS=5 npm run bench:parse
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { setPaused } from '../src/state/pause.js';
import { loadConfig } from '../src/config.js';
import { execute } from '../src/db/execute.js';
import { Engine } from '../src/engine/engine.js';
import { createLogger } from '../src/log.js';
import { parseDagFile, parseThreadReady } from '../src/processor/parse.js';
import { storeParsedFiles } from '../src/processor/store.js';
import { triggerRun } from '../src/scheduler/runs.js';
import { benchDatabase, benchDriver, type BenchDatabase } from './lib/database.js';
import { Figures } from './lib/figures.js';
import { machineLine, median } from './lib/machine.js';
import { installTrace } from './lib/trace.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WIDTH = 100;
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 120_000);
const trace = process.env.BENCH_TRACE && benchDriver() === 'postgres' ? installTrace() : undefined;
let traced = '';
/** 10000 -> '10k', for the figures' keys. */
const size = TASKS % 1000 === 0 ? `${TASKS / 1000}k` : String(TASKS);

/** Layers of WIDTH tasks; each task depends on two tasks of the layer before. */
function generateDagSource(tasks: number): string {
  const lines = [
    "import { dag } from 'updraft';",
    '',
    "export default dag({ id: 'bench_parse', schedule: '@daily', startDate: '2026-01-01' }, (t) => {",
    '  const noop = async () => null;',
  ];
  for (let i = 0; i < tasks; i++) {
    lines.push(`  const t${i} = t.task('task_${i}', noop);`);
    if (i >= WIDTH) {
      const base = i - WIDTH - (i % WIDTH);
      lines.push(`  t${i}.after(t${base + (i % WIDTH)}, t${base + ((i + 1) % WIDTH)});`);
    }
  }
  lines.push('});', '');
  return lines.join('\n');
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'updraft-bench-parse-'));
const dagsFolder = path.join(dir, 'dags');
const file = path.join(dagsFolder, 'bench_parse.ts');
let bench: BenchDatabase | undefined;
let engine: Engine | undefined;
try {
  bench = await benchDatabase();
  const { database } = bench;
  await import('node:fs/promises').then((fs) => fs.mkdir(dagsFolder));
  await writeFile(path.join(dagsFolder, 'package.json'), '{ "type": "module" }\n');

  // The planner: a scheduler alone, on the bench's database.
  const config = loadConfig({
    ...process.env,
    UPDRAFT_DAGS_FOLDER: dagsFolder,
    UPDRAFT_HOME: path.join(dir, 'home'),
    DATABASE_URL: '',
  });
  const planner = new Engine(
    database,
    config,
    { processor: false, scheduler: true, executor: false },
    createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn'),
    {
      createScheduledRuns: false,
    },
  );
  engine = planner;
  // When each run's first task was scheduled, and how many were.
  const scheduledAt = new Map<string, { at: number; tasks: number }>();
  planner.bus.on('task:state', ({ runRowId, state }) => {
    if (state !== 'scheduled') return;
    const seen = scheduledAt.get(runRowId);
    if (seen) seen.tasks++;
    else scheduledAt.set(runRowId, { at: performance.now(), tasks: 1 });
  });
  await planner.start();
  let triggers = 0;
  /** Trigger to the run's first task scheduled, in ms; and the trigger alone. */
  const plan = async (): Promise<{ triggerMs: number; planMs: number }> => {
    const started = performance.now();
    const run = await triggerRun(database.db, 'bench_parse', {
      actor: 'bench',
      logicalDate: new Date(Date.UTC(2030, 0, 1) + triggers++ * 60_000),
    });
    const triggered = performance.now();
    planner.bus.emit('runs');
    const deadline = triggered + TIMEOUT_MS;
    while (!scheduledAt.has(run.id)) {
      if (performance.now() > deadline) throw new Error(`the run was not started within ${TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const { at, tasks } = scheduledAt.get(run.id)!;
    const { rows } = await execute<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from task_instances where run_id = ${run.id}`,
    );
    if (rows[0]!.n !== TASKS || tasks !== Math.min(TASKS, WIDTH))
      throw new Error(
        `the run has ${rows[0]!.n} task instances and ${tasks} scheduled; expected ${TASKS} and ${Math.min(TASKS, WIDTH)}`,
      );
    // Out of the way: nothing runs its tasks, and a running run counts against maxActiveRuns.
    await execute(database.db, sql`update dag_runs set state = 'failed', ended_at = now() where id = ${run.id}`);
    return { triggerMs: triggered - started, planMs: at - started };
  };

  const coldStarted = performance.now();
  await parseThreadReady();
  const coldThreadStartMs = performance.now() - coldStarted;

  const rows: Record<string, number>[] = [];
  const plans: Record<string, number>[] = [];
  for (let run = 0; run < RUNS; run++) {
    // A new source each run, so each store writes a new version (the real work).
    await writeFile(file, `${generateDagSource(TASKS)}// run ${run}\n`);
    await parseThreadReady();
    const started = performance.now();
    const parsed = await parseDagFile(file, 60_000);
    const parsedAt = performance.now();
    if (!parsed.outcome.ok) throw new Error(`the generated DAG failed to parse: ${parsed.outcome.error.message}`);
    await storeParsedFiles(database.db, [parsed], { dagsFolder, pausedAtCreation: true, presentFiles: [file] });
    const storedAt = performance.now();
    const { importMs, validateMs, serializeMs } = parsed.outcome.timings;
    rows.push({
      threadHandoffMs: parsedAt - started - importMs - serializeMs,
      importMs: importMs - validateMs,
      validateMs,
      serializeMs,
      storeMs: storedAt - parsedAt,
      totalMs: storedAt - started,
    });

    if (run === 0) await setPaused(database.db, 'bench_parse', false, 'bench');
    const cold = await plan();
    trace?.reset();
    const warm = await plan();
    if (trace) traced = trace.report(8);
    plans.push({
      triggerMs: cold.triggerMs,
      coldPlanMs: cold.planMs,
      warmTriggerMs: warm.triggerMs,
      warmPlanMs: warm.planMs,
    });
  }

  console.log(`bench/parse: ${TASKS} tasks, ${RUNS} runs, median (min-max) in ms`);
  console.log(machineLine());
  console.log(`database: ${await bench.describe()}`);
  console.log(`  coldThreadStartMs ${coldThreadStartMs.toFixed(1)} (once per thread, started ahead of need)`);
  const print = (table: Record<string, number>[]) => {
    for (const key of Object.keys(table[0]!)) {
      const values = table.map((r) => r[key]!);
      const fmt = (n: number) => n.toFixed(1);
      console.log(
        `  ${key.padEnd(14)} ${fmt(median(values)).padStart(8)}  (${fmt(Math.min(...values))}-${fmt(Math.max(...values))})`,
      );
    }
  };
  print(rows);
  console.log(
    `  plan a run: trigger -> the run started with its ${Math.min(TASKS, WIDTH)} roots scheduled (${TASKS} task instances created); cold: the version's first run, warm: the next`,
  );
  print(plans);
  if (traced)
    console.log(
      `  the last warm plan (BENCH_TRACE; the bench's trigger, check and update included):\n${traced.replace(/^/gm, '    ')}`,
    );

  const figures = new Figures('parse', {
    driver: benchDriver(),
    runs: String(RUNS),
    tasks: String(TASKS),
    dependencies: String(2 * (TASKS - WIDTH)),
  });
  figures.add(
    `parse_${size}_seconds`,
    `parse and store a DAG file of ${TASKS.toLocaleString('en-US')} tasks, as the DAG processor does (warm parse thread)`,
    's',
    rows.map((r) => r.totalMs! / 1000),
  );
  figures.add(
    `plan_${size}_seconds`,
    `plan a run of it: trigger -> started, ${TASKS.toLocaleString('en-US')} task instances created (DAG version cached)`,
    's',
    plans.map((p) => p.warmPlanMs! / 1000),
  );
  figures.add(
    `plan_${size}_cold_seconds`,
    `the same, the DAG version's first run (read and shaped first)`,
    's',
    plans.map((p) => p.coldPlanMs! / 1000),
  );
  await figures.write();
} finally {
  await engine?.stop();
  await bench?.dispose();
  await rm(dir, { recursive: true, force: true });
}
