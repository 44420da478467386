/**
 * bench/backfill: backfills end to end, in one process (an Engine with the processor,
 * scheduler and executor roles, as standalone runs them), each figure on a fresh database:
 *   (a) 365 daily dates (2025) of a DAG of 10 independent no-op tasks (BENCH_SHAPE=fan:
 *       one task, then 8 in parallel, then one), maxActiveRuns 16: seconds from
 *       createBackfill to the engine's 'backfill:completed' event;
 *   (b) a year of a 5-minute cron in America/New_York (105,120 dates) of a 1-task no-op
 *       DAG, maxActiveRuns 4: from createBackfill to its first run started (the first
 *       'task:state' event, 'scheduled': the scheduler emits it for the run's root right after
 *       the transaction that moved the run to running, i.e. set dag_runs.started_at, commits),
 *       to its first task running (the executor's 'task:state' 'running'), and to the complete
 *       plan (backfills.plan_done, polled every 10 ms); then the backfill is cancelled;
 *   (c) planIntervals alone over the same year (no database): intervals per second;
 *   (d) opt-in (BENCH_CASES=d): the scheduler's backfill step alone, without an engine: passes
 *       of advanceBackfills then startQueuedRuns, two runs ended by an UPDATE after each pass
 *       (a pass in (a) starts ~1.6 runs): ms per run for the 365 dates of (a), and the passes
 *       that plan the year of (b).
 * Goals (PostgreSQL, 2 cores): (a) <= 10 s; (b) first run started <= 1 s.
 *
 * The DAGs are paused (no scheduled run competes; a backfill runs a paused DAG all the
 * same). Before each measured backfill a one-date backfill (2024) warms the task threads
 * and the DAG cache, as an engine that has run anything has them. The backfill reaches the
 * scheduler as it would from another process: by the NOTIFY createBackfill sends.
 * Each run of (a) is listed with how busy the machine was and the engine's errors (an executor
 * deadlock, 40P01, costs it 1-2 s). BENCH_TRACE=1 prints, after each measured backfill, the
 * CPU used, the scheduler's passes, the event loop's delay and (PostgreSQL) the transactions
 * and statements by total time; tracing slows the figures down: read it for proportions.
 * BENCH_DEBUG=1 prints each repetition's figures and (b)'s first task events.
 *
 *   npm run bench:backfill                         # PostgreSQL (the default here): a new database on
 *                                                  # BENCH_ADMIN_URL, TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres
 *   BENCH_DRIVER=pglite BENCH_CASES=b npm run bench:backfill
 *   BENCH_RUNS=5 BENCH_SHAPE=fan BENCH_MAX_ACTIVE_TASKS=160 BENCH_CASES=a npm run bench:backfill
 */
import { sql } from 'drizzle-orm';
import { advanceBackfills } from '../src/backfill/advance.js';
import { createBackfill } from '../src/backfill/create.js';
import { cancelBackfill } from '../src/backfill/manage.js';
import { planIntervals } from '../src/backfill/plan.js';
import { loadConfig } from '../src/config.js';
import { pgErrorCode } from '../src/db/errors.js';
import { execute } from '../src/db/execute.js';
import { Engine } from '../src/engine/engine.js';
import type { EngineBus, EngineEvents } from '../src/state/bus.js';
import { createLogger } from '../src/log.js';
import { DagProcessor } from '../src/processor/processor.js';
import { parseDateInZone } from '../src/schedule/index.js';
import { compileSchedule } from '../src/schedule/validate.js';
import { DagCache } from '../src/state/dag-cache.js';
import { Scheduler } from '../src/scheduler/scheduler.js';
import { startQueuedRuns } from '../src/state/start-runs.js';
import { makeDagFolder } from '../test/support/dag-folder.js';
import { benchDatabase, benchDriver, type BenchDatabase, type BenchDriver } from './lib/database.js';
import { Figures } from './lib/figures.js';
import { machineBusy, machineLine, machineTicks, median } from './lib/machine.js';
import { cpuLine, installTrace, sampleCpu, timeCalls, watchLoopDelay, type CpuSample } from './lib/trace.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CASES = new Set((process.env.BENCH_CASES ?? 'a,b,c').split(',').map((c) => c.trim()));
const SHAPE = process.env.BENCH_SHAPE ?? 'independent';
if (SHAPE !== 'independent' && SHAPE !== 'fan')
  throw new Error(`BENCH_SHAPE must be independent or fan, got '${SHAPE}'`);
// The daily DAG's limit on its running task instances (across its runs); unset, the DAG default (16).
const MAX_ACTIVE_TASKS = process.env.BENCH_MAX_ACTIVE_TASKS;
// PostgreSQL unless asked otherwise: the goals are PostgreSQL's.
const DRIVER: BenchDriver = process.env.BENCH_DRIVER ? benchDriver() : 'postgres';
const DAILY = { dagId: 'bench_daily', from: '2025-01-01', to: '2025-12-31', maxActiveRuns: 16, dates: 365 };
const OFTEN = {
  dagId: 'bench_often',
  from: '2025-01-01',
  to: '2025-12-31T23:55',
  maxActiveRuns: 4,
  cron: '*/5 * * * *',
  zone: 'America/New_York',
};
const POLL_MS = 10;
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 300_000);

const tracing = Boolean(process.env.BENCH_TRACE);
const trace = tracing && DRIVER === 'postgres' ? installTrace() : undefined;
const passes = tracing ? timeCalls(Scheduler.prototype, 'tick', 'scheduler passes') : undefined;
const loopDelay = tracing ? watchLoopDelay() : undefined;
const folder = await makeDagFolder({
  'daily.ts': `import { dag } from 'updraft';
export default dag({ id: '${DAILY.dagId}', schedule: '@daily', startDate: '2024-01-01'${MAX_ACTIVE_TASKS ? `, maxActiveTasks: ${Number(MAX_ACTIVE_TASKS)}` : ''} }, (t) => {
  const tasks = Array.from({ length: 10 }, (_, i) => t.task('task_' + i, async () => undefined));
  ${SHAPE === 'fan' ? 'tasks[0]!.then(tasks.slice(1, 9)).forEach((middle) => middle.then(tasks[9]!));' : ''}
});
`,
  'often.ts': `import { dag } from 'updraft';
export default dag({ id: '${OFTEN.dagId}', schedule: '${OFTEN.cron}', timezone: '${OFTEN.zone}', startDate: '2024-01-01' }, (t) => void t.task('a', async () => undefined));
`,
});

/** A fresh database and an engine on it, the DAGs parsed and the task threads warmed by a one-date backfill of `warm`. */
async function freshEngine(warm: { dagId: string; date: string }): Promise<{ bench: BenchDatabase; engine: Engine }> {
  const bench = await benchDatabase(DRIVER);
  const config = loadConfig({
    ...process.env,
    UPDRAFT_DAGS_FOLDER: folder.path,
    UPDRAFT_DAGS_PAUSED_AT_CREATION: 'true',
    DATABASE_URL: '',
  });
  const engine = new Engine(
    bench.database,
    config,
    { processor: true, scheduler: true, executor: true },
    createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn'),
  );
  try {
    await engine.start();
    const warmUp = await createBackfill(
      bench.database.db,
      { dagId: warm.dagId, from: warm.date, to: warm.date },
      'bench',
    );
    await waitFor(engine.bus, 'backfill:completed', (e) => e.id === warmUp.id);
    return { bench, engine };
  } catch (error) {
    await engine.stop();
    await bench.dispose();
    throw error;
  }
}

/** Resolves with performance.now() at the next `name` event that `match` accepts. */
function waitFor<K extends keyof EngineEvents>(
  bus: EngineBus,
  name: K,
  match: (...args: EngineEvents[K]) => boolean,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const listener = (...args: EngineEvents[K]) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      bus.off(name, listener as never);
      resolve(performance.now());
    };
    const timer = setTimeout(() => {
      bus.off(name, listener as never);
      reject(new Error(`no '${String(name)}' event within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    bus.on(name, listener as never);
  });
}

/** Polls `condition` every POLL_MS; resolves with performance.now() when it was first seen to hold. */
async function pollUntil(condition: () => Promise<boolean>): Promise<number> {
  const deadline = performance.now() + TIMEOUT_MS;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return performance.now();
}

/** The engine's errors from now on (logged as they come), by SQLSTATE or message: a deadlock costs a second or two. */
function collectErrors(bus: EngineBus): { stop(): string[] } {
  const seen: string[] = [];
  const onError = (error: Error) => void seen.push(pgErrorCode(error) ?? error.message);
  bus.on('error', onError);
  return {
    stop() {
      bus.off('error', onError);
      return seen;
    },
  };
}

/** With BENCH_TRACE: starts counting; the returned function prints what was counted since. */
async function startTrace(bench: BenchDatabase, title: string): Promise<(() => Promise<void>) | undefined> {
  if (!tracing) return undefined;
  // The database's backends, when the server runs on this machine (PGlite runs inside this process).
  const local =
    DRIVER === 'postgres' && ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(bench.env.DATABASE_URL!).hostname);
  const query = sql`select pid from pg_stat_activity where datname = current_database()`;
  const pids = async () =>
    local ? (await execute<{ pid: number }>(bench.database.db, query)).rows.map((r) => r.pid) : [];
  const before: CpuSample = await sampleCpu(await pids());
  trace?.reset();
  passes!.reset();
  loopDelay!.reset();
  const started = performance.now();
  return async () => {
    const elapsed = performance.now() - started;
    // The loop-delay histogram takes its sample of a long stall at its next timer: let it fire.
    await new Promise((resolve) => setTimeout(resolve, 25));
    const lines = [
      cpuLine(before, await sampleCpu(await pids()), elapsed),
      passes!.line(elapsed),
      loopDelay!.line(),
      ...(trace ? [trace.report()] : []),
    ];
    console.log(`${title}, ${(elapsed / 1000).toFixed(2)} s traced:\n${lines.join('\n')}\n`);
  };
}

/** (a): seconds from createBackfill to 'backfill:completed', the engine's errors and how busy the machine was meanwhile. */
async function dailyYear(): Promise<{ seconds: number; errors: string[]; busy: string }> {
  const { bench, engine } = await freshEngine({ dagId: DAILY.dagId, date: '2024-12-31' });
  try {
    const { db } = bench.database;
    const completed = new Map<number, number>();
    const onCompleted = ({ id }: { id: number }) => completed.set(id, performance.now());
    engine.bus.on('backfill:completed', onCompleted);
    const traced = await startTrace(bench, '(a)');
    const errors = collectErrors(engine.bus);
    const ticks = await machineTicks();
    const started = performance.now();
    const backfill = await createBackfill(db, DAILY, 'bench');
    const ended =
      completed.get(backfill.id) ?? (await waitFor(engine.bus, 'backfill:completed', (e) => e.id === backfill.id));
    engine.bus.off('backfill:completed', onCompleted);
    const busy = machineBusy(ticks, await machineTicks());
    const seen = errors.stop();
    await traced?.();
    const { rows } = await execute<{ ok: number }>(
      db,
      sql`select count(*) filter (where state = 'success')::int as ok from dag_runs where backfill_id = ${backfill.id}`,
    );
    if (rows[0]!.ok !== DAILY.dates) throw new Error(`expected ${DAILY.dates} successful runs, got ${rows[0]!.ok}`);
    return { seconds: (ended - started) / 1000, errors: seen, busy };
  } finally {
    await engine.stop();
    await bench.dispose();
  }
}

interface OftenFigures {
  runStarted: number;
  taskRunning: number;
  planDone: number;
  planned: number;
  runsStarted: number;
  errors: string[];
}

/** (b): seconds from createBackfill to the first run started, its first task running, and the complete plan. */
async function oftenYear(): Promise<OftenFigures> {
  const { bench, engine } = await freshEngine({ dagId: OFTEN.dagId, date: '2024-12-31T23:55' });
  try {
    const { db } = bench.database;
    const { bus } = engine;
    // Listening before the backfill exists: the DAG is paused, so every run that starts now is the backfill's.
    const runStarted = waitFor(bus, 'task:state', (e) => e.state === 'scheduled');
    const taskRunning = waitFor(bus, 'task:state', (e) => e.state === 'running');
    // Awaited once the plan is complete; a timeout before then must not end the process as unhandled.
    runStarted.catch(() => {});
    taskRunning.catch(() => {});
    let runsStarted = 0;
    const countStarts = (e: EngineEvents['task:state'][0]) => void (e.state === 'scheduled' && runsStarted++);
    bus.on('task:state', countStarts);
    const traced = await startTrace(bench, "(b) to the plan's end");
    const errors = collectErrors(bus);
    const started = performance.now();
    // BENCH_DEBUG: the first task events, in ms after createBackfill was called.
    let shown = 0;
    const show = (e: EngineEvents['task:state'][0]) =>
      void (
        shown++ < 12 &&
        console.log(`${(performance.now() - started).toFixed(0)} ms: ${e.state} ${e.runRowId.slice(0, 8)}`)
      );
    if (process.env.BENCH_DEBUG) bus.on('task:state', show);
    const backfill = await createBackfill(db, OFTEN, 'bench');
    const planDone = await pollUntil(
      async () =>
        (await execute<{ plan_done: boolean }>(db, sql`select plan_done from backfills where id = ${backfill.id}`))
          .rows[0]!.plan_done,
    );
    bus.off('task:state', countStarts);
    bus.off('task:state', show);
    const seen = errors.stop();
    await traced?.();
    const [first, running] = await Promise.all([runStarted, taskRunning]);
    const { rows } = await execute<{ planned: number }>(
      db,
      sql`select planned from backfills where id = ${backfill.id}`,
    );
    await cancelBackfill(db, backfill.id, 'bench');
    const s = (at: number) => (at - started) / 1000;
    return {
      runStarted: s(first),
      taskRunning: s(running),
      planDone: s(planDone),
      planned: rows[0]!.planned,
      runsStarted,
      errors: seen,
    };
  } finally {
    await engine.stop();
    await bench.dispose();
  }
}

/** (c): intervals per second of planIntervals over the year, without a database. */
function planningRate(): { rate: number; count: number } {
  const compiled = compileSchedule(OFTEN.cron, OFTEN.zone);
  if (compiled === null || compiled.kind === 'once') throw new Error(`'${OFTEN.cron}' has no intervals`);
  const range = {
    from: parseDateInZone(OFTEN.from, OFTEN.zone),
    to: parseDateInZone(OFTEN.to, OFTEN.zone),
    backwards: false,
    completeBy: new Date(),
  };
  const started = performance.now();
  let count = 0;
  for (const _ of planIntervals(compiled.timetable, range, null)) count++;
  return { rate: count / ((performance.now() - started) / 1000), count };
}

interface StepFigures {
  /** (a)'s dates: passes, and ms per run in advanceBackfills and in startQueuedRuns. */
  dailyPasses: number;
  advanceMsPerRun: number;
  startMsPerRun: number;
  /** (b)'s plan: passes until plan_done, and the median advanceBackfills pass meanwhile. */
  planPasses: number;
  planPassMs: number;
}

/** (d): the scheduler's backfill step, driven directly on a fresh database. */
async function schedulerSteps(): Promise<StepFigures> {
  const bench = await benchDatabase(DRIVER);
  const { db } = bench.database;
  try {
    await new DagProcessor(db, {
      dagsFolder: folder.path,
      pausedAtCreation: true,
      importTimeoutMs: 30_000,
      dagsPollMs: 1_000,
    }).refresh();
    const cache = new DagCache(db);
    const timed = async <T>(f: () => Promise<T>, into: number[]) => {
      const started = performance.now();
      const result = await f();
      into.push(performance.now() - started);
      return result;
    };
    const advance: number[] = [];
    const start: number[] = [];
    const daily = await createBackfill(db, DAILY, 'bench');
    for (let done = false; !done; ) {
      done = (await timed(() => advanceBackfills(db, cache), advance)).completed.includes(daily.id);
      await timed(() => startQueuedRuns(db, cache), start);
      await execute(
        db,
        sql`update dag_runs set state = 'success', ended_at = now() where id in (select id from dag_runs where backfill_id = ${daily.id} and state = 'running' order by logical_date limit 2)`,
      );
    }
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const planPasses: number[] = [];
    const often = await createBackfill(db, OFTEN, 'bench');
    while ((await timed(() => advanceBackfills(db, cache), planPasses)).again);
    await cancelBackfill(db, often.id, 'bench');
    return {
      dailyPasses: advance.length,
      advanceMsPerRun: sum(advance) / DAILY.dates,
      startMsPerRun: sum(start) / DAILY.dates,
      planPasses: planPasses.length,
      planPassMs: median(planPasses),
    };
  } finally {
    await bench.dispose();
  }
}

const fmt = (values: number[], digits = 3) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
const int = (value: number) => Math.round(value).toLocaleString('en-US');
const fmtInt = (values: number[]) => `${int(median(values))} (${int(Math.min(...values))}-${int(Math.max(...values))})`;

try {
  const daily: Awaited<ReturnType<typeof dailyYear>>[] = [];
  const often: OftenFigures[] = [];
  const plans: ReturnType<typeof planningRate>[] = [];
  const steps: StepFigures[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (CASES.has('a')) daily.push(await dailyYear());
    if (CASES.has('b')) often.push(await oftenYear());
    if (CASES.has('c')) plans.push(planningRate());
    if (CASES.has('d')) steps.push(await schedulerSteps());
    if (process.env.BENCH_DEBUG)
      console.log({ daily: daily.at(-1), often: often.at(-1), plan: plans.at(-1), steps: steps.at(-1) });
  }

  // Described on a database of its own: the measured ones are gone.
  const described = await benchDatabase(DRIVER);
  const database = await described.describe().finally(() => described.dispose());
  const concurrency = loadConfig({ ...process.env, DATABASE_URL: '' }).concurrency;

  console.log(`bench/backfill: ${RUNS} runs, each on a fresh database, median (min-max)`);
  console.log(machineLine({ 'task threads': String(concurrency) }));
  console.log(`database: ${database}`);
  console.log(
    `waiting: on engine events ('backfill:completed', 'task:state'); for the plan's end, backfills.plan_done polled every ${POLL_MS} ms`,
  );
  if (daily.length > 0) {
    const shape = SHAPE === 'fan' ? 'no-op tasks in a fan (1 -> 8 -> 1)' : 'independent no-op tasks';
    console.log(
      `  (a) ${DAILY.dates} daily dates, 10 ${shape}, maxActiveRuns ${DAILY.maxActiveRuns}, the DAG's maxActiveTasks ${MAX_ACTIVE_TASKS ?? '16 (default)'}:`,
    );
    console.log(
      `      createBackfill -> 'backfill:completed':   ${fmt(daily.map((d) => d.seconds))} s   goal <= 10 s   (${fmtInt(daily.map((d) => DAILY.dates / d.seconds))} runs/s)`,
    );
    const notes = (d: (typeof daily)[number]) =>
      [d.busy && `machine ${d.busy} busy`, d.errors.length > 0 && `engine errors: ${d.errors.join(', ')}`]
        .filter(Boolean)
        .join('; ');
    console.log(`      each run: ${daily.map((d) => `${d.seconds.toFixed(2)} s (${notes(d)})`).join(', ')}`);
  }
  if (often.length > 0) {
    console.log(
      `  (b) a year of '${OFTEN.cron}' in ${OFTEN.zone} (${int(often[0]!.planned)} dates), 1 no-op task, maxActiveRuns ${OFTEN.maxActiveRuns}:`,
    );
    console.log(
      `      createBackfill -> first run started:       ${fmt(often.map((o) => o.runStarted))} s   goal <= 1 s`,
    );
    console.log(`      createBackfill -> first task running:      ${fmt(often.map((o) => o.taskRunning))} s`);
    console.log(
      `      createBackfill -> plan complete:           ${fmt(often.map((o) => o.planDone))} s   (${fmtInt(often.map((o) => o.planned / o.planDone))} dates/s; ${fmtInt(often.map((o) => o.runsStarted))} runs started meanwhile)`,
    );
    const oftenErrors = often.flatMap((o, i) => (o.errors.length ? [`run ${i + 1}: ${o.errors.join(', ')}`] : []));
    if (oftenErrors.length > 0) console.log(`      engine errors while measured: ${oftenErrors.join('; ')}`);
  }
  if (plans.length > 0) {
    console.log(
      `  (c) planIntervals alone, ${int(plans[0]!.count)} intervals:    ${fmtInt(plans.map((p) => p.rate))} intervals/s (${fmt(
        plans.map((p) => p.count / p.rate),
        2,
      )} s)`,
    );
  }
  const figures = new Figures('backfill', { driver: DRIVER, 'task threads': String(concurrency) });
  if (daily.length > 0)
    figures.add(
      'backfill_365_daily_seconds',
      `${DAILY.dates} daily dates x 10 no-op tasks, maxActiveRuns ${DAILY.maxActiveRuns}: create -> completed`,
      's',
      daily.map((d) => d.seconds),
    );
  if (often.length > 0) {
    figures.add(
      'backfill_year_5min_first_run_seconds',
      `a year of '${OFTEN.cron}' (${int(often[0]!.planned)} dates): create -> first run started`,
      's',
      often.map((o) => o.runStarted),
    );
    figures.add(
      'backfill_year_5min_plan_seconds',
      `a year of '${OFTEN.cron}': create -> plan complete`,
      's',
      often.map((o) => o.planDone),
    );
  }
  if (plans.length > 0)
    figures.add(
      'backfill_plan_intervals_per_s',
      'planIntervals alone',
      'intervals/s',
      plans.map((p) => p.rate),
      true,
    );
  await figures.write();
  if (steps.length > 0) {
    console.log(`  (d) the scheduler's backfill step alone (no engine; two runs ended after each pass):`);
    console.log(
      `      ${DAILY.dates} daily dates in ${fmtInt(steps.map((s) => s.dailyPasses))} passes: advanceBackfills ${fmt(
        steps.map((s) => s.advanceMsPerRun),
        2,
      )} ms and startQueuedRuns ${fmt(
        steps.map((s) => s.startMsPerRun),
        2,
      )} ms per run`,
    );
    console.log(
      `      the year's plan: ${fmtInt(steps.map((s) => s.planPasses))} passes of advanceBackfills, ${fmt(
        steps.map((s) => s.planPassMs),
        1,
      )} ms each (median)`,
    );
  }
} finally {
  await folder.cleanup();
}
