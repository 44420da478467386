/**
 * Fault injection with real processes on a real PostgreSQL: schedulers and workers share
 * one database, and some of them are killed (SIGKILL) or stopped (SIGTERM) while they
 * hold work. Each case then checks that nothing was lost and nothing ran twice, by
 * counting what the tasks did.
 *
 * Tasks write to a scratch database (FX_URL) with node-postgres: a row in `starts` when a
 * try begins and a row in `effects` (the side effect that must happen once per task
 * instance) when it ends, each (dag_id, run_id, task_id, try_number, pid). They return
 * { pid, try }, so the XCom names the try the engine kept. A unique key on (run, task,
 * try) would prove nothing: a try handed back at shutdown runs again under the same try
 * number (docs/engine.md), so effects are counted per (run, task) and matched to the
 * kept try by try number and pid.
 *
 * Gated tasks wait for a file before their effect: while it is missing, the test knows
 * from `starts` which process runs which tries, and strikes there.
 *
 * Cases: (a) 100 runs of 100 tasks on two schedulers (--no-execute) and two workers;
 * (b) kill -9 of a worker holding running and claimed tries; (c) kill -9 of one scheduler
 * of two mid-way through a catch-up; (d) a restart of PostgreSQL (a server of the test's
 * own) under two schedulers and two workers mid-run; (e) SIGTERM of a worker with running tries: within
 * the grace, past a short grace, and past a short grace with an SQL statement in flight;
 * (f) a worker cut off from PostgreSQL (a TCP proxy the test cuts) stops its tries.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { triggerRun } from '../../src/scheduler/runs.js';
import { openDatabase } from '../../src/db/client.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testChildDatabase } from '../support/db.js';
import { useScratchDatabases } from '../support/operators.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { startUpdraft, stopAll, type UpdraftProcess } from '../support/process.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOUR = 3_600_000;

const scratch = useScratchDatabases(['effects']);
let fx: pg.Client;
const folders: DagFolder[] = [];

beforeAll(async () => {
  fx = new pg.Client({ connectionString: scratch.url('effects') });
  await fx.connect();
  // Unlogged: a commit that wrote no WAL does not wait for a flush, so 20,000 inserts stay cheap.
  for (const table of ['starts', 'effects']) {
    await fx.query(
      `create unlogged table ${table} (dag_id text not null, run_id text not null, task_id text not null, try_number int not null, pid int not null,
                                       at timestamptz not null default clock_timestamp())`,
    );
  }
});

afterAll(async () => {
  await stopAll();
  await fx?.end();
  for (const folder of folders) await folder.cleanup();
});

/** The top of every DAG file: `work` records its start, waits for `gate` (if any), records its effect. */
function prelude(gate: string | null, delayMs = 0): string {
  return `import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dag } from 'updraft';

const pg = createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))})('pg');
const GATE = ${JSON.stringify(gate)};
// One connection per task thread, kept across tries and versions of this file.
if (!globalThis.fxPool) {
  globalThis.fxPool = new pg.Pool({ connectionString: process.env.FX_URL, max: 1 });
  globalThis.fxPool.on('error', () => {});
}
const record = (table, ctx) =>
  globalThis.fxPool.query('insert into ' + table + ' (dag_id, run_id, task_id, try_number, pid) values ($1, $2, $3, $4, $5)',
    [ctx.dagId, ctx.runId, ctx.taskId, ctx.tryNumber, process.pid]);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function work(ctx) {
  await record('starts', ctx);
  while (GATE && !existsSync(GATE)) await pause(20);
  if (${delayMs} > 0) await pause(${delayMs});
  await record('effects', ctx);
  return { pid: process.pid, try: ctx.tryNumber };
}
`;
}

interface Cluster {
  db: Db;
  /** The database's URL, as the processes get it. */
  databaseUrl: string;
  /** A file the gated tasks of this cluster wait for. */
  gate: string;
  openGate(): Promise<void>;
  start(args: string[], env?: Record<string, string>): UpdraftProcess;
  /** Every process's output, for failure messages. */
  output(): string;
}

/**
 * A fresh database (or the one `on` names) and DAGs folder holding `source(gate)`, and a
 * way to start `updraft` processes on them. Heartbeats are short so that a killed worker's
 * tasks are reaped within seconds; `env` overrides.
 */
async function cluster(file: string, source: (gate: string) => string, env: Record<string, string> = {}, on?: { url: string; db: Db; home: string }): Promise<Cluster> {
  const folder = await makeDagFolder();
  folders.push(folder);
  const gate = path.join(folder.path, 'gate');
  await folder.write(file, source(gate));
  const child = on ? undefined : await testChildDatabase();
  const db = on?.db ?? (await child!.open()).db;
  const databaseUrl = on?.url ?? child!.env.DATABASE_URL;
  const base = {
    UPDRAFT_HOME: on?.home ?? child!.env.UPDRAFT_HOME,
    DATABASE_URL: databaseUrl,
    UPDRAFT_DAGS_FOLDER: folder.path,
    UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false',
    UPDRAFT_LOG_LEVEL: 'warn',
    UPDRAFT_CONCURRENCY: '2',
    UPDRAFT_SCHEDULER_POLL_INTERVAL: '500ms',
    UPDRAFT_HEARTBEAT_INTERVAL: '500ms',
    UPDRAFT_HEARTBEAT_TIMEOUT: '3s',
    UPDRAFT_SHUTDOWN_GRACE: '20s',
    FX_URL: scratch.url('effects'),
    ...env,
  };
  const processes: UpdraftProcess[] = [];
  return {
    db,
    databaseUrl,
    gate,
    openGate: () => writeFile(gate, ''),
    start(args, extra = {}) {
      const p = startUpdraft(args, { ...base, ...extra });
      processes.push(p);
      return p;
    },
    output: () => processes.map((p) => `--- pid ${p.pid}:\n${p.output()}`).join('\n'),
  };
}

/** Polls `probe` every 100 ms until `done` accepts its value; fails after `timeoutMs` with the last value and `context()`. */
async function until<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last seen ${JSON.stringify(value)}\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The process's exit, or a failure after `timeoutMs` (the process is then killed by afterAll). */
async function exitWithin(p: UpdraftProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`pid ${p.pid} did not exit within ${timeoutMs} ms:\n${p.output()}`)), timeoutMs)));
  try {
    const exit = await Promise.race([p.exited, late]);
    return { ...exit, at: Date.now() };
  } finally {
    clearTimeout(timer);
  }
}

/** `count` manual runs, a minute apart from 2026-01-01 + `from` minutes. */
async function trigger(db: Db, dagId: string, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await triggerRun(db, dagId, { actor: 'fault-injection', logicalDate: new Date(Date.UTC(2026, 0, 1) + i * 60_000) });
  }
}

async function runStates(db: Db): Promise<{ total: number; ended: number; success: number }> {
  const { rows } = await execute<{ total: number; ended: number; success: number }>(
    db,
    sql`select count(*)::int as total, count(*) filter (where state in ('success', 'failed'))::int as ended,
               count(*) filter (where state = 'success')::int as success
          from dag_runs`,
  );
  return rows[0]!;
}

const allEnded = (n: number) => (s: { total: number; ended: number }) => s.total >= n && s.ended === s.total;

type TaskRow = {
  run_id: string;
  task_id: string;
  state: string | null;
  try_number: number;
  owner: string | null;
  /** From the XCom: the pid and try number of the try whose result was kept. */
  pid: number | null;
  kept_try: number | null;
};

async function taskInstances(db: Db): Promise<TaskRow[]> {
  const { rows } = await execute<TaskRow>(
    db,
    sql`select r.run_id, ti.task_id, ti.state, ti.try_number, ti.owner, (x.value->>'pid')::int as pid, (x.value->>'try')::int as kept_try
          from task_instances ti join dag_runs r on r.id = ti.run_id left join xcom x on x.task_instance_id = ti.id and x.key = 'return_value'
         order by r.run_id, ti.task_id`,
  );
  return rows;
}

/** Task instances held (queued or running) by the process with this pid: owner is '<host>:<pid>:<random>'. */
async function heldBy(db: Db, pid: number): Promise<TaskRow[]> {
  return (await taskInstances(db)).filter((t) => (t.state === 'queued' || t.state === 'running') && t.owner?.split(':').at(-2) === String(pid));
}

type Mark = {
  run_id: string;
  task_id: string;
  try_number: number;
  pid: number;
  at: Date;
};

async function marks(table: 'starts' | 'effects', dagId: string): Promise<Mark[]> {
  return (await fx.query<Mark>(`select run_id, task_id, try_number, pid, at from ${table} where dag_id = $1 order by at`, [dagId])).rows;
}

const key = (m: { run_id: string; task_id: string }) => `${m.run_id} ${m.task_id}`;

/**
 * Nothing lost, nothing twice: every task instance succeeded, and its work was done
 * exactly once, by the try whose result the engine kept (same try number and pid).
 * Returns the problems, so that a failure lists them all.
 */
function exactlyOnce(tasks: TaskRow[], effects: Mark[]): string[] {
  const byTask = new Map<string, Mark[]>();
  for (const e of effects) byTask.set(key(e), [...(byTask.get(key(e)) ?? []), e]);
  const problems: string[] = [];
  for (const t of tasks) {
    const done = byTask.get(key(t)) ?? [];
    byTask.delete(key(t));
    const what = `${key(t)} (state ${t.state}, try ${t.try_number}, kept try ${t.kept_try} of pid ${t.pid})`;
    if (t.state !== 'success') problems.push(`${what}: not successful`);
    if (t.kept_try !== t.try_number) problems.push(`${what}: the kept result is not its last try's`);
    if (done.length !== 1) problems.push(`${what}: ${done.length} effects (${done.map((d) => `try ${d.try_number} pid ${d.pid}`).join(', ')})`);
    else if (done[0]!.try_number !== t.try_number || done[0]!.pid !== t.pid) problems.push(`${what}: the effect is of try ${done[0]!.try_number} of pid ${done[0]!.pid}`);
  }
  for (const [k, rest] of byTask) problems.push(`${k}: ${rest.length} effects of no task instance`);
  return problems;
}

/** Stops the processes gracefully, all at once; each must exit 0. */
async function stopCleanly(processes: UpdraftProcess[]): Promise<void> {
  const exits = await Promise.all(processes.map((p) => p.stop()));
  expect(exits).toEqual(processes.map(() => ({ code: 0, signal: null })));
}

describe('fault injection: two schedulers and two workers on one PostgreSQL', () => {
  // 100 runs of 100 tasks, as the issue asks: 18-22 s from the first trigger to the last
  // run's end, 24-28 s for the whole case (2 cores, PostgreSQL 15 on the same machine).
  // Tasks are split about evenly (5,033 / 4,967 in one run).
  const RUNS = 100;
  const TASKS = 100;

  it(`runs ${RUNS} runs of ${TASKS} tasks, each task exactly once, on both workers`, { timeout: 90_000 }, async () => {
    const c = await cluster(
      'scale.ts',
      () => `${prelude(null)}
export default dag({ id: 'fx_scale', schedule: null, maxActiveRuns: ${RUNS}, maxActiveTasks: 1000 }, (t) => {
  const first = t.task('first', work);
  const middle = Array.from({ length: ${TASKS - 2} }, (_, i) => t.task('t' + String(i).padStart(3, '0'), work));
  const last = t.task('last', work);
  first.then(middle);
  last.after(middle);
});
`,
      // Not about heartbeats: the defaults, so that a busy machine cannot starve them into a reap.
      { UPDRAFT_HEARTBEAT_INTERVAL: '5s', UPDRAFT_HEARTBEAT_TIMEOUT: '30s', UPDRAFT_CONCURRENCY: '4' },
    );
    const schedulers = [c.start(['scheduler', '--no-execute']), c.start(['scheduler', '--no-execute'])];
    const workers = [c.start(['worker']), c.start(['worker'])];
    await Promise.all([...schedulers, ...workers].map((p) => p.ready));

    const began = Date.now();
    await trigger(c.db, 'fx_scale', RUNS);
    await until('every run ended', () => runStates(c.db), allEnded(RUNS), 60_000, c.output);
    const seconds = ((Date.now() - began) / 1000).toFixed(1);
    await stopCleanly([...schedulers, ...workers]);

    expect(await runStates(c.db)).toEqual({ total: RUNS, ended: RUNS, success: RUNS });
    const tasks = await taskInstances(c.db);
    expect(tasks).toHaveLength(RUNS * TASKS);
    expect(tasks.filter((t) => t.try_number !== 1)).toEqual([]);
    const effects = await marks('effects', 'fx_scale');
    expect(exactlyOnce(tasks, effects)).toEqual([]);
    // Executed once: one start per task instance as well.
    const starts = await marks('starts', 'fx_scale');
    expect(starts).toHaveLength(RUNS * TASKS);
    expect(new Set(starts.map(key)).size).toBe(RUNS * TASKS);
    // Both workers did some of it, and only they.
    const byPid = new Map<number, number>();
    for (const e of effects) byPid.set(e.pid, (byPid.get(e.pid) ?? 0) + 1);
    console.info(`fx_scale: ${RUNS} runs of ${TASKS} tasks in ${seconds} s; tasks per worker pid ${JSON.stringify(Object.fromEntries(byPid))}`);
    expect([...byPid.keys()].sort()).toEqual(workers.map((w) => w.pid).sort());
  });
});

/** Four gated tasks fanning in to `after`, retried once (soon) if their worker dies. */
const gatedDag = (dagId: string) => (gate: string) => `${prelude(gate)}
export default dag({ id: '${dagId}', schedule: null, defaults: { retries: 1, retryDelay: '200ms' } }, (t) => {
  const gated = ['g1', 'g2', 'g3', 'g4'].map((id) => t.task(id, work));
  t.task('after', work).after(gated);
});
`;

/**
 * Triggers run `index` and waits until `worker` alone has claimed its four gated tasks:
 * two running (a thread each) and two waiting for a thread. While two wait, a worker
 * claims nothing more (executor.ts, pump), so the next run goes to the next worker.
 */
async function holdRun(c: Cluster, dagId: string, index: number, worker: UpdraftProcess): Promise<void> {
  await trigger(c.db, dagId, 1, index);
  await until('two tries running on the worker', async () => (await marks('starts', dagId)).filter((s) => s.pid === worker.pid).length, (n) => n >= 2, 20_000, c.output);
  await until(
    'four task instances held by the worker, two running',
    async () => (await heldBy(c.db, worker.pid)).map((t) => t.state).sort(),
    (states) => states.join() === 'queued,queued,running,running',
    20_000,
    c.output,
  );
}

describe('fault injection: a worker dies', () => {
  it('kill -9 of a worker with running tasks: its tries are retried by the other worker after the heartbeat timeout', { timeout: 60_000 }, async () => {
    const DAG = 'fx_kill_worker';
    const c = await cluster('kill_worker.ts', gatedDag(DAG));
    const scheduler = c.start(['scheduler', '--no-execute']);
    const doomed = c.start(['worker']);
    await Promise.all([scheduler.ready, doomed.ready]);
    await holdRun(c, DAG, 0, doomed);
    const survivor = c.start(['worker']);
    await survivor.ready;
    await holdRun(c, DAG, 1, survivor);

    const lost = await heldBy(c.db, doomed.pid);
    await doomed.kill();
    const killedAt = Date.now();
    await c.openGate();
    await until('both runs ended', () => runStates(c.db), allEnded(2), 30_000, c.output);
    await stopCleanly([scheduler, survivor]);

    expect(await runStates(c.db)).toEqual({ total: 2, ended: 2, success: 2 });
    const tasks = await taskInstances(c.db);
    const effects = await marks('effects', DAG);
    expect(exactlyOnce(tasks, effects)).toEqual([]);
    // The killed worker's tries (running or only claimed) were retried as try 2 on the survivor; the rest ran once.
    const lostKeys = new Set(lost.map(key));
    expect(tasks.filter((t) => lostKeys.has(key(t))).map((t) => [key(t), t.try_number, t.pid])).toEqual(lost.map((t) => [key(t), 2, survivor.pid]));
    expect(tasks.filter((t) => !lostKeys.has(key(t))).map((t) => t.try_number)).toEqual(Array(tasks.length - lost.length).fill(1));
    // The dead worker's running tries never got to their effect.
    expect(effects.filter((e) => e.pid === doomed.pid)).toEqual([]);
    // Not reaped early: the retries waited for the 3 s heartbeat timeout (less the age of the
    // last beat at the kill, about one 0.5 s interval, and as much again for slack).
    const retries = (await marks('starts', DAG)).filter((s) => s.try_number === 2);
    expect(retries).toHaveLength(4);
    expect(Math.min(...retries.map((r) => r.at.getTime())) - killedAt).toBeGreaterThanOrEqual(2_000);
    // The killed try says why it failed.
    const { rows: reaped } = await execute<{ n: number }>(
      c.db,
      sql`select count(distinct task_instance_id)::int as n from task_logs where try_number = 1 and message like ${`no heartbeat from %:${doomed.pid}:%`}`,
    );
    expect(reaped[0]!.n).toBe(4);
  });
});

describe('fault injection: a worker is cut off from PostgreSQL', () => {
  it('stops its tries before the heartbeat timeout rather than finishing them unseen; another worker runs them', { timeout: 60_000 }, async () => {
    const DAG = 'fx_cut_off';
    const c = await cluster('cut_off.ts', gatedDag(DAG));
    const scheduler = c.start(['scheduler', '--no-execute']);
    await scheduler.ready;
    const database = c.databaseUrl;
    const proxy = await startTcpProxy(new URL(database));
    const cut = c.start(['worker'], { DATABASE_URL: proxy.url(database) });
    await cut.ready;
    await holdRun(c, DAG, 0, cut);
    const held = await heldBy(c.db, cut.pid);
    const survivor = c.start(['worker']);
    await survivor.ready;

    proxy.cut();
    await cut.waitFor(/no heartbeat reached the database for \d+s: stopped its 2 running tries/);
    // Its tries are stopped now: opening the gate lets only their retries do the work.
    await c.openGate();
    await until('the run ended', () => runStates(c.db), allEnded(1), 30_000, c.output);
    await stopCleanly([scheduler, survivor]);
    await cut.kill();
    await proxy.close();

    expect(await runStates(c.db)).toEqual({ total: 1, ended: 1, success: 1 });
    const tasks = await taskInstances(c.db);
    const effects = await marks('effects', DAG);
    expect(effects.filter((e) => e.pid === cut.pid)).toEqual([]);
    expect(exactlyOnce(tasks, effects)).toEqual([]);
    const heldKeys = new Set(held.map(key));
    expect(tasks.filter((t) => heldKeys.has(key(t))).map((t) => [key(t), t.try_number, t.pid])).toEqual(held.map((t) => [key(t), 2, survivor.pid]));
  });
});

describe('fault injection: a scheduler dies', () => {
  it('kill -9 of one scheduler of two mid-run: the other creates and starts the rest', { timeout: 60_000 }, async () => {
    const DAG = 'fx_kill_scheduler';
    const RUNS = 16;
    const startDate = new Date(Math.floor(Date.now() / HOUR) * HOUR - RUNS * HOUR);
    // Two active runs at a time: runs are created and started throughout, not all at first.
    const c = await cluster(
      'kill_scheduler.ts',
      () => `${prelude(null, 30)}
export default dag({ id: '${DAG}', schedule: '@hourly', startDate: ${JSON.stringify(startDate.toISOString())}, catchup: true, maxActiveRuns: 2 }, (t) => {
  t.task('a', work).then(t.task('b', work)).then(t.task('c', work));
});
`,
    );
    const schedulers = [c.start(['scheduler', '--no-execute']), c.start(['scheduler', '--no-execute'])];
    const worker = c.start(['worker']);
    await Promise.all([...schedulers, worker].map((p) => p.ready));

    const before = await until('three runs done', () => runStates(c.db), (s) => s.success >= 3, 30_000, c.output);
    await schedulers[0]!.kill();
    const killedAt = new Date();
    expect(before.success).toBeLessThan(RUNS);
    // One run per hour since the start date (one more if the clock passed the hour meanwhile).
    const after = await until('every run ended', () => runStates(c.db), allEnded(RUNS), 40_000, c.output);
    await stopCleanly([schedulers[1]!, worker]);

    expect(after.success).toBe(after.total);
    const { rows: runs } = await execute<{ logical_date: Date | string; started_at: Date | string }>(c.db, sql`select logical_date, started_at from dag_runs order by logical_date`);
    expect(runs.map((r) => new Date(r.logical_date).getTime())).toEqual(runs.map((_, i) => startDate.getTime() + i * HOUR));
    // The survivor started runs after the kill.
    expect(runs.filter((r) => new Date(r.started_at) > killedAt).length).toBeGreaterThan(0);
    const tasks = await taskInstances(c.db);
    expect(tasks).toHaveLength(runs.length * 3);
    expect(tasks.filter((t) => t.try_number !== 1)).toEqual([]);
    expect(exactlyOnce(tasks, await marks('effects', DAG))).toEqual([]);
  });
});

describe('fault injection: PostgreSQL restarts', () => {
  let server: PrivatePostgres | undefined;
  afterAll(async () => {
    await stopAll();
    await server?.destroy();
  });

  it('mid-run: every process reconnects (LISTEN too) and carries on; nothing is lost or done twice', { timeout: 90_000 }, async () => {
    const DAG = 'fx_pg_restart';
    const RUNS = 12;
    // A server of this test's own: restarting the shared one would break the other files.
    server = await startPrivatePostgres();
    await server.createDatabase('updraft');
    const url = server.url('updraft');
    const database = await openDatabase({ databaseUrl: url, home: server.scratch, onPoolError: () => {} });
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
    const processes = [c.start(['scheduler', '--no-execute']), c.start(['scheduler', '--no-execute']), c.start(['worker']), c.start(['worker'])];
    await Promise.all(processes.map((p) => p.ready));
    await trigger(c.db, DAG, RUNS);
    await until('work under way', async () => (await marks('effects', DAG)).length, (n) => n >= 15, 30_000, c.output);

    await server.stop();
    // Each process has noticed: its connections were ended by the shutdown.
    await Promise.all(processes.map((p) => p.waitFor(/cannot reach the database/)));
    // The outage (a fault's length, not a wait for an event): reconnect attempts fail meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await server.start();
    await Promise.all(processes.map((p) => p.waitFor(/the database is reachable again: listening again \(\d+ failed attempts/)));

    await until('every run ended', () => runStates(c.db).catch(() => ({ total: 0, ended: -1, success: 0 })), allEnded(RUNS), 60_000, c.output);
    // Each process listens again: one LISTEN connection per process.
    const listening = await until(
      'a LISTEN connection per process',
      async () => (await execute<{ n: number }>(c.db, sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen %'`)).rows[0]!.n,
      (n) => n === processes.length,
      10_000,
      c.output,
    );
    expect(listening).toBe(processes.length);
    // The processes lived through it, and stop cleanly.
    await stopCleanly(processes);

    expect(await runStates(c.db)).toEqual({ total: RUNS, ended: RUNS, success: RUNS });
    const tasks = await taskInstances(c.db);
    expect(tasks).toHaveLength(RUNS * 10);
    expect(exactlyOnce(tasks, await marks('effects', DAG))).toEqual([]);
    await database.close();
  });
});

describe('fault injection: a worker is stopped (SIGTERM)', () => {
  it('hands back its unstarted tries at once, lets its running tries finish within the grace, claims nothing more and exits 0', { timeout: 60_000 }, async () => {
    const DAG = 'fx_sigterm';
    const c = await cluster('sigterm.ts', gatedDag(DAG));
    const scheduler = c.start(['scheduler', '--no-execute']);
    const stopping = c.start(['worker'], { UPDRAFT_SHUTDOWN_GRACE: '20s' });
    await Promise.all([scheduler.ready, stopping.ready]);
    await holdRun(c, DAG, 0, stopping);
    const other = c.start(['worker']);
    await other.ready;
    await holdRun(c, DAG, 1, other);

    const running = (await heldBy(c.db, stopping.pid)).filter((t) => t.state === 'running').map(key).sort();
    stopping.signal('SIGTERM');
    await stopping.waitFor(/SIGTERM: stopping/);
    // The two tries it had claimed without starting go back at once, while its running ones go on.
    const kept = await until('the unstarted tries handed back', async () => (await heldBy(c.db, stopping.pid)).map(key).sort(), (held) => held.length === 2, 10_000, c.output);
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

    expect(await runStates(c.db)).toEqual({ total: 3, ended: 3, success: 3 });
    const tasks = await taskInstances(c.db);
    expect(exactlyOnce(tasks, await marks('effects', DAG))).toEqual([]);
    // Its two running tries finished there; it started nothing after the SIGTERM; what it had
    // claimed without starting ran on the other worker without using up a try.
    expect(tasks.filter((t) => t.pid === stopping.pid).map(key).sort()).toEqual(running);
    expect((await marks('starts', DAG)).filter((s) => s.pid === stopping.pid).map(key).sort()).toEqual(running);
    expect(tasks.filter((t) => t.try_number !== 1)).toEqual([]);
  });

  it('with a grace shorter than the task: hands the running tries back, exits 0, and the other worker runs them again', { timeout: 60_000 }, async () => {
    const DAG = 'fx_sigterm_short';
    const c = await cluster('sigterm_short.ts', gatedDag(DAG));
    const scheduler = c.start(['scheduler', '--no-execute']);
    const stopping = c.start(['worker'], { UPDRAFT_SHUTDOWN_GRACE: '1s' });
    await Promise.all([scheduler.ready, stopping.ready]);
    await holdRun(c, DAG, 0, stopping);
    const other = c.start(['worker']);
    await other.ready;

    const running = (await heldBy(c.db, stopping.pid)).filter((t) => t.state === 'running').map(key).sort();
    const signalledAt = Date.now();
    stopping.signal('SIGTERM');
    const exit = await exitWithin(stopping, 20_000);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.at - signalledAt).toBeLessThan(10_000);
    // The gate opens only now: the stopped worker's tries cannot have done their work.
    await until('the other worker runs the handed-back tries', async () => (await marks('starts', DAG)).filter((s) => s.pid === other.pid).length, (n) => n >= 2, 20_000, c.output);
    await c.openGate();
    await until('the run ended', () => runStates(c.db), allEnded(1), 30_000, c.output);
    await stopCleanly([scheduler, other]);

    expect(await runStates(c.db)).toEqual({ total: 1, ended: 1, success: 1 });
    const tasks = await taskInstances(c.db);
    const effects = await marks('effects', DAG);
    expect(exactlyOnce(tasks, effects)).toEqual([]);
    expect(effects.filter((e) => e.pid !== other.pid)).toEqual([]);
    // Handed back without using up a try: the interrupted tries ran again as try 1.
    expect(tasks.filter((t) => t.try_number !== 1)).toEqual([]);
    const starts = await marks('starts', DAG);
    expect(starts.filter((s) => s.pid === stopping.pid).map((s) => [key(s), s.try_number]).sort()).toEqual(running.map((k) => [k, 1]));
    for (const k of running) expect(starts.filter((s) => key(s) === k).map((s) => s.pid)).toEqual([stopping.pid, other.pid]);
  });

  // The grace ends while the try's statement runs. Handed back, the try must commit nothing
  // (docs/operators.md: an aborted try's query is cancelled on the server), or the other
  // worker's try 1 repeats work that the stopped worker's try 1 committed after all.
  it('with a grace shorter than an SQL statement in flight: the handed-back try commits nothing, so its work is done once', { timeout: 60_000 }, async () => {
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
      { UPDRAFT_CONN_FX: scratch.url('effects') },
    );
    const scheduler = c.start(['scheduler', '--no-execute']);
    const stopping = c.start(['worker'], { UPDRAFT_SHUTDOWN_GRACE: '1s' });
    await Promise.all([scheduler.ready, stopping.ready]);
    await trigger(c.db, DAG, 1);
    const inFlight = async () =>
      (await fx.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and state = 'active' and query like '%pg_sleep%' and pid <> pg_backend_pid()`)).rows[0]!.n;
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

    expect(await runStates(c.db)).toEqual({ total: 1, ended: 1, success: 1 });
    const tasks = await taskInstances(c.db);
    expect(tasks.map((t) => [t.task_id, t.state, t.try_number])).toEqual([['slow', 'success', 1]]);
    const effects = await marks('effects', DAG);
    expect(effects.map((e) => [e.task_id, e.try_number, e.pid === other.pid ? 'other' : e.pid === stopping.pid ? 'stopped' : e.pid])).toEqual([['slow', 1, 'other']]);
  });
});
