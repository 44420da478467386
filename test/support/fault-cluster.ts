/**
 * Fault injection with real processes on a real PostgreSQL (test/postgres/faults-*.test.ts):
 * schedulers and workers share one database, and the test kills, stops, freezes or cuts
 * off some of them, or the database itself, then counts what the tasks did.
 *
 * Tasks write to a scratch database (the effects database, FX_URL) with node-postgres: a
 * row in `starts` when a try begins and a row in `effects` (the side effect that must
 * happen once per task instance) when it ends, each (dag_id, run_id, task_id, try_number,
 * pid). They return { pid, try }, so the XCom names the try the engine kept. A unique key
 * on (run, task, try) would prove nothing: a try handed back runs again under the same try
 * number (docs/engine.md), so effects are counted per (run, task) and matched to the kept
 * try by try number and pid.
 *
 * Gated tasks wait for a file before their effect: while it is missing, the test knows
 * from `starts` which process runs which tries, and strikes there.
 *
 *   useFaultCluster();            // at the top of the test file: effects database, cleanup
 *   const c = await cluster('x.ts', (gate) => `${prelude(gate)} export default dag(...)`);
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { triggerRun } from '../../src/scheduler/runs.js';
import { makeDagFolder, type DagFolder } from './dag-folder.js';
import { testChildDatabase } from './db.js';
import { useScratchDatabases, type ScratchDatabases } from './operators.js';
import { startUpdraft, stopAll, type UpdraftProcess } from './process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let scratch: ScratchDatabases | undefined;
let fxClient: pg.Client | undefined;
const folders: DagFolder[] = [];

/** Sets up the effects database for the calling test file, and stops every process and removes every folder after it. */
export function useFaultCluster(): void {
  scratch = useScratchDatabases(['effects']);
  beforeAll(async () => {
    fxClient = new pg.Client({ connectionString: effectsUrl() });
    await fxClient.connect();
    // Unlogged: a commit that wrote no WAL does not wait for a flush, so 20,000 inserts stay cheap.
    for (const table of ['starts', 'effects']) {
      await fxClient.query(
        `create unlogged table ${table} (dag_id text not null, run_id text not null, task_id text not null, try_number int not null, pid int not null,
                                         at timestamptz not null default clock_timestamp())`,
      );
    }
  });
  afterAll(async () => {
    await stopAll();
    await fxClient?.end();
    for (const folder of folders.splice(0)) await folder.cleanup();
  });
}

export function effectsUrl(): string {
  return scratch!.url('effects');
}

/** A client on the effects database. */
export function fx(): pg.Client {
  return fxClient!;
}

/**
 * The top of every DAG file: `work` records its start, waits for `gate` (if any), waits
 * `delayMs` (a number, or an expression of `ctx` giving one), records its effect.
 */
export function prelude(gate: string | null, delayMs: number | string = 0): string {
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
  const delay = ${delayMs};
  if (delay > 0) await pause(delay);
  await record('effects', ctx);
  return { pid: process.pid, try: ctx.tryNumber };
}
`;
}

export interface Cluster {
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
export async function cluster(
  file: string,
  source: (gate: string) => string,
  env: Record<string, string> = {},
  on?: { url: string; db: Db; home: string },
): Promise<Cluster> {
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
    FX_URL: effectsUrl(),
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
export async function until<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  context: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms; last seen ${JSON.stringify(value)}\n${context()}`);
    await sleep(100);
  }
}

/** A pause that is a fault's length (or a stream's pace), never a wait for an event. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The process's exit, or a failure after `timeoutMs` (the process is then killed by afterAll). */
export async function exitWithin(
  p: UpdraftProcess,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () => reject(new Error(`pid ${p.pid} did not exit within ${timeoutMs} ms:\n${p.output()}`)),
        timeoutMs,
      )),
  );
  try {
    const exit = await Promise.race([p.exited, late]);
    return { ...exit, at: Date.now() };
  } finally {
    clearTimeout(timer);
  }
}

/** `count` manual runs, a minute apart from 2026-01-01 + `from` minutes. */
export async function trigger(db: Db, dagId: string, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await triggerRun(db, dagId, { actor: 'fault-injection', logicalDate: new Date(Date.UTC(2026, 0, 1) + i * 60_000) });
  }
}

export async function runStates(db: Db): Promise<{ total: number; ended: number; success: number }> {
  const { rows } = await execute<{ total: number; ended: number; success: number }>(
    db,
    sql`select count(*)::int as total, count(*) filter (where state in ('success', 'failed'))::int as ended,
               count(*) filter (where state = 'success')::int as success
          from dag_runs`,
  );
  return rows[0]!;
}

export const allEnded = (n: number) => (s: { total: number; ended: number }) => s.total >= n && s.ended === s.total;

export type TaskRow = {
  run_id: string;
  task_id: string;
  state: string | null;
  try_number: number;
  owner: string | null;
  /** From the XCom: the pid and try number of the try whose result was kept. */
  pid: number | null;
  kept_try: number | null;
};

export async function taskInstances(db: Db): Promise<TaskRow[]> {
  const { rows } = await execute<TaskRow>(
    db,
    sql`select r.run_id, ti.task_id, ti.state, ti.try_number, ti.owner, (x.value->>'pid')::int as pid, (x.value->>'try')::int as kept_try
          from task_instances ti join dag_runs r on r.id = ti.run_id left join xcom x on x.task_instance_id = ti.id and x.key = 'return_value'
         order by r.run_id, ti.task_id`,
  );
  return rows;
}

/** Task instances held (queued or running) by the process with this pid: owner is '<host>:<pid>:<random>'. */
export async function heldBy(db: Db, pid: number): Promise<TaskRow[]> {
  return (await taskInstances(db)).filter(
    (t) => (t.state === 'queued' || t.state === 'running') && t.owner?.split(':').at(-2) === String(pid),
  );
}

export type Mark = {
  run_id: string;
  task_id: string;
  try_number: number;
  pid: number;
  at: Date;
};

export async function marks(table: 'starts' | 'effects', dagId: string): Promise<Mark[]> {
  return (
    await fx().query<Mark>(`select run_id, task_id, try_number, pid, at from ${table} where dag_id = $1 order by at`, [
      dagId,
    ])
  ).rows;
}

export const key = (m: { run_id: string; task_id: string }) => `${m.run_id} ${m.task_id}`;

/**
 * Nothing lost, nothing twice: every task instance succeeded, and its work was done
 * exactly once, by the try whose result the engine kept (same try number and pid).
 * `mayRepeat` names tasks whose work may also have been done once more by a try the fault
 * interrupted (a frozen worker's try that went on after it was taken over, or a try given
 * up and handed back, which runs again under the same number, maybe on the same process):
 * for those, two effects are allowed, one of them the kept try's. Which process did the
 * extra one is the report's check (fault-report.ts, expectSound). Returns the problems,
 * so that a failure lists them all.
 */
export function exactlyOnce(tasks: TaskRow[], effects: Mark[], mayRepeat: ReadonlySet<string> = new Set()): string[] {
  const byTask = new Map<string, Mark[]>();
  for (const e of effects) byTask.set(key(e), [...(byTask.get(key(e)) ?? []), e]);
  const problems: string[] = [];
  for (const t of tasks) {
    const done = byTask.get(key(t)) ?? [];
    byTask.delete(key(t));
    const what = `${key(t)} (state ${t.state}, try ${t.try_number}, kept try ${t.kept_try} of pid ${t.pid})`;
    const list = done.map((d) => `try ${d.try_number} pid ${d.pid}`).join(', ');
    if (t.state !== 'success') problems.push(`${what}: not successful`);
    if (t.kept_try !== t.try_number) problems.push(`${what}: the kept result is not its last try's`);
    const kept = done.filter((d) => d.try_number === t.try_number && d.pid === t.pid).length;
    if (kept === 0) problems.push(`${what}: no effect of the kept try (effects: ${list})`);
    if (done.length > (mayRepeat.has(key(t)) ? 2 : 1)) problems.push(`${what}: ${done.length} effects (${list})`);
  }
  for (const [k, rest] of byTask) problems.push(`${k}: ${rest.length} effects of no task instance`);
  return problems;
}

/** Stops the processes gracefully, all at once; each must exit 0. */
export async function stopCleanly(processes: UpdraftProcess[]): Promise<void> {
  const exits = await Promise.all(processes.map((p) => p.stop()));
  expect(exits).toEqual(processes.map(() => ({ code: 0, signal: null })));
}

/** Four gated tasks fanning in to `after`, retried once (soon) if their worker dies. */
export const gatedDag = (dagId: string) => (gate: string) =>
  `${prelude(gate)}
export default dag({ id: '${dagId}', schedule: null, defaults: { retries: 1, retryDelay: '200ms' } }, (t) => {
  const gated = ['g1', 'g2', 'g3', 'g4'].map((id) => t.task(id, work));
  t.task('after', work).after(gated);
});
`;

/**
 * Triggers run `index` and waits until `worker` alone has claimed its four gated tasks:
 * two running (a thread each) and two waiting for a thread. While two wait, a worker
 * claims nothing more (src/executor/claim-loop.ts), so the next run goes to the next worker.
 */
export async function holdRun(c: Cluster, dagId: string, index: number, worker: UpdraftProcess): Promise<void> {
  await trigger(c.db, dagId, 1, index);
  await until(
    'two tries running on the worker',
    async () => (await marks('starts', dagId)).filter((s) => s.pid === worker.pid).length,
    (n) => n >= 2,
    20_000,
    c.output,
  );
  await until(
    'four task instances held by the worker, two running',
    async () => (await heldBy(c.db, worker.pid)).map((t) => t.state).sort(),
    (states) => states.join() === 'queued,queued,running,running',
    20_000,
    c.output,
  );
}
