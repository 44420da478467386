/**
 * Two `updraft scheduler` processes on one PostgreSQL database, woken at the same
 * moment to catch up 48 hourly runs: every logical date gets one run, every task
 * instance runs exactly once, and both processes do part of the work.
 *
 * Tasks run in the children: each appends "<run> <task> <try> <pid>" to a ledger file
 * and returns its pid, since the owner column is cleared when a task finishes.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPaused } from '../../src/state/pause.js';
import type { Database } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { CHANNELS, listen } from '../../src/db/notify.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testChildDatabase, type ChildDatabase } from '../support/db.js';
import { startUpdraft, stopAll } from '../support/process.js';

const HOUR = 3_600_000;
const RUNS = 48;

const dagSource = (ledger: string, startDate: Date) => `import { appendFileSync } from 'node:fs';
import { dag, type TaskContext } from 'updraft';

async function work(ctx: TaskContext) {
  appendFileSync(${JSON.stringify(ledger)}, ctx.runId + ' ' + ctx.taskId + ' ' + ctx.tryNumber + ' ' + process.pid + '\\n');
  await new Promise((r) => setTimeout(r, 20));
  return { pid: process.pid };
}

export default dag(
  { id: 'catchup', schedule: '@hourly', startDate: ${JSON.stringify(startDate.toISOString())}, catchup: true, maxActiveRuns: 16 },
  (t) => {
    const extract = t.task('extract', work);
    extract.then([t.task('left', work), t.task('right', work)]);
  },
);
`;

let child: ChildDatabase;
let folder: DagFolder;
let database: Database;

beforeAll(async () => {
  child = await testChildDatabase();
  folder = await makeDagFolder();
  database = await child.open();
});

afterAll(async () => {
  await stopAll();
  await folder?.cleanup();
});

/** Waits until `check` holds, looking again at every NOTIFY of the engines (and every second as a safety net). */
async function until(check: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string>): Promise<void> {
  let wake = () => {};
  const listener = await listen(database, [CHANNELS.runs, CHANNELS.work], () => wake());
  try {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not done within ${timeoutMs} ms: ${await describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    await listener.close();
  }
}

describe('two schedulers on one database', () => {
  it('create each run once and run each task instance once, sharing the work', { timeout: 90_000 }, async () => {
    const ledger = path.join(folder.path, 'ledger.txt');
    const startDate = new Date(Math.floor(Date.now() / HOUR) * HOUR - RUNS * HOUR);
    await folder.write('catchup.ts', dagSource(ledger, startDate));
    const env = {
      ...child.env,
      UPDRAFT_DAGS_FOLDER: folder.path,
      // Paused until both processes run, so that both see the 48 due runs at the same moment.
      UPDRAFT_DAGS_PAUSED_AT_CREATION: 'true',
      UPDRAFT_CONCURRENCY: '2',
      UPDRAFT_SCHEDULER_POLL_INTERVAL: '500ms',
      UPDRAFT_SHUTDOWN_GRACE: '5s',
      UPDRAFT_LOG_LEVEL: 'warn',
    };
    const schedulers = [startUpdraft(['scheduler'], env), startUpdraft(['scheduler'], env)];
    await Promise.all(schedulers.map((s) => s.ready));

    await setPaused(database.db, 'catchup', false, 'test');
    await execute(database.db, sql`select pg_notify(${CHANNELS.dags}, 'catchup')`);

    const counts = async () =>
      (
        await execute<{ total: number; active: number }>(
          database.db,
          sql`select count(*)::int as total, count(*) filter (where state in ('queued', 'running'))::int as active from dag_runs`,
        )
      ).rows[0]!;
    await until(
      async () => {
        const { total, active } = await counts();
        return total >= RUNS && active === 0;
      },
      60_000,
      async () => `${JSON.stringify(await counts())}\n${schedulers.map((s) => s.output()).join('\n')}`,
    );
    for (const s of schedulers) expect(await s.stop()).toEqual({ code: 0, signal: null });

    const { rows: runs } = await execute<{ logical_date: Date | string; state: string }>(
      database.db,
      sql`select logical_date, state from dag_runs order by logical_date`,
    );
    // One run per hour since the start date (a 49th if the clock passed the hour meanwhile), all successful.
    expect(runs.length === RUNS || runs.length === RUNS + 1).toBe(true);
    expect(runs.map((r) => new Date(r.logical_date).getTime())).toEqual(
      runs.map((_, i) => startDate.getTime() + i * HOUR),
    );
    expect(new Set(runs.map((r) => r.state))).toEqual(new Set(['success']));

    const { rows: tasks } = await execute<{ state: string; try_number: number; pid: number | null }>(
      database.db,
      sql`select ti.state, ti.try_number, (x.value->>'pid')::int as pid
            from task_instances ti left join xcom x on x.task_instance_id = ti.id`,
    );
    expect(tasks).toHaveLength(runs.length * 3);
    expect(tasks.filter((t) => t.state !== 'success' || t.try_number !== 1)).toEqual([]);

    // Each task instance started exactly once, whoever ran it.
    const lines = (await readFile(ledger, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(runs.length * 3);
    expect(new Set(lines.map((l) => l.split(' ').slice(0, 2).join(' '))).size).toBe(lines.length);
    expect(lines.every((l) => l.split(' ')[2] === '1')).toBe(true);

    // Both processes ran some of it.
    const byPid = new Map<number, number>();
    for (const t of tasks) byPid.set(t.pid!, (byPid.get(t.pid!) ?? 0) + 1);
    expect([...byPid.keys()].sort()).toEqual(schedulers.map((s) => s.pid).sort());
  });
});
