/**
 * Queues: a task names its queue, and a worker runs only tasks of the queues it serves
 * (`updraft worker --queue`, repeatable or comma-separated). A task whose queue no
 * worker serves waits, scheduled, until one that serves it starts.
 */
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { execute } from '../../src/db/execute.js';
import { triggerRun } from '../../src/scheduler/runs.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testChildDatabase } from '../support/db.js';
import { startUpdraft, stopAll } from '../support/process.js';

let folder: DagFolder | undefined;

afterAll(async () => {
  await stopAll();
  await folder?.cleanup();
});

const SOURCE = `import { dag } from 'updraft';
const work = async () => ({ pid: process.pid });
export default dag({ id: 'queues', schedule: null }, (t) => {
  t.task('extract', { queue: 'etl' }, work);
  t.task('render', { queue: 'reports' }, work);
  t.task('plain', work);
  t.task('train', { queue: 'gpu' }, work);
});
`;

type Row = { task_id: string; state: string | null; pid: number | null };

describe('worker queues', () => {
  it('each worker runs only the tasks of the queues it serves; a queue nobody serves waits for a worker that does', {
    timeout: 60_000,
  }, async () => {
    const child = await testChildDatabase();
    folder = await makeDagFolder({ 'queues.ts': SOURCE });
    const database = await child.open();
    const env = {
      ...child.env,
      UPDRAFT_DAGS_FOLDER: folder.path,
      UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false',
      UPDRAFT_LOG_LEVEL: 'warn',
      UPDRAFT_SCHEDULER_POLL_INTERVAL: '200ms',
    };
    const scheduler = startUpdraft(['scheduler', '--no-execute'], env);
    const etl = startUpdraft(['worker', '--concurrency', '1', '--queue', 'etl'], env);
    const general = startUpdraft(
      ['worker', '--concurrency', '1', '--queue', 'default', '--queue', 'reports,archive'],
      env,
    );
    await Promise.all([scheduler, etl, general].map((p) => p.ready));
    await triggerRun(database.db, 'queues', { actor: 'test' });

    const tasks = async () =>
      (
        await execute<Row>(
          database.db,
          sql`select ti.task_id, ti.state, (x.value->>'pid')::int as pid
                from task_instances ti left join xcom x on x.task_instance_id = ti.id and x.key = 'return_value'
               order by ti.task_id`,
        )
      ).rows;
    const until = async (done: (rows: Row[]) => boolean) => {
      const deadline = Date.now() + 30_000;
      for (let rows = await tasks(); ; rows = await tasks()) {
        if (done(rows)) return rows;
        if (Date.now() > deadline) throw new Error(`not within 30 s: ${JSON.stringify(rows)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    // The three served tasks ran, each on the worker serving its queue; they were claimed
    // after `train` was scheduled with them, so `train` was passed over, not missed.
    const first = await until((rows) => rows.filter((r) => r.state === 'success').length === 3);
    expect(first).toEqual([
      { task_id: 'extract', state: 'success', pid: etl.pid },
      { task_id: 'plain', state: 'success', pid: general.pid },
      { task_id: 'render', state: 'success', pid: general.pid },
      { task_id: 'train', state: 'scheduled', pid: null },
    ]);

    const gpu = startUpdraft(['worker', '--queue', 'gpu'], env);
    await gpu.ready;
    const last = await until((rows) => rows.every((r) => r.state === 'success'));
    expect(last.find((r) => r.task_id === 'train')?.pid).toBe(gpu.pid);
    const { rows: runs } = await execute<{ state: string }>(database.db, sql`select state from dag_runs`);
    expect(runs).toEqual([{ state: 'success' }]);
  });

  it('refuses an empty --queue, naming the flag', async () => {
    const p = startUpdraft(['worker', '--queue', ' , '], { DATABASE_URL: 'postgres://127.0.0.1:1/none' });
    const exit = await p.exited;
    expect(exit.code).not.toBe(0);
    expect(p.output()).toMatch(/--queue needs a queue name/);
    expect(p.output()).not.toMatch(/\n\s+at /);
  });
});
