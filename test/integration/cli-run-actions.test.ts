/**
 * Clearing, marking and cancelling runs from the command line (`clear`, `runs mark`,
 * `runs cancel`), as child processes against this file's own database. The tests run
 * in order and build on each other: `dags test` leaves a failed run, `clear` queues it
 * again, `runs mark` ends it, `runs cancel` stops a triggered one.
 */
import os from 'node:os';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { auditLog, dagRuns, dags, taskInstances } from '../../src/db/schema.js';
import { CLI_TEST_TIMEOUT, STACK_FRAME, table, useCli } from '../support/cli.js';

const ETL = `import { dag } from 'updraft';

export default dag({ id: 'etl', schedule: null }, (t) => {
  const extract = t.task('extract', async (ctx) => {
    if (ctx.tryNumber === 1) throw new Error('source not ready on try 1');
    return 1;
  });
  const load = t.task('load', async (ctx) => (await ctx.pull(extract)) + 1);
  const notify = t.task('notify', { triggerRule: 'all_done' }, async () => 'sent');
  extract.then([load, notify]);
});
`;

const { updraft, setup } = useCli({ 'etl.ts': ETL }, { UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false' });

const RUN = 'manual__2030-01-01T00:00:00+00:00';
const QUEUED_RUN = 'manual__2031-01-01T00:00:00+00:00';
const ACTOR = `cli:${os.userInfo().username}`;

/** Reads the children's database between runs (on PGlite it is one process's at a time). */
async function inDatabase<T>(fn: (db: Database['db']) => Promise<T>): Promise<T> {
  const database = await setup().child.open();
  try {
    return await fn(database.db);
  } finally {
    await database.close();
  }
}

async function stored(runId: string) {
  return inDatabase(async (db) => {
    const [run] = await db
      .select({ id: dagRuns.id, state: dagRuns.state })
      .from(dagRuns)
      .innerJoin(dags, eq(dags.id, dagRuns.dagId))
      .where(and(eq(dags.dagId, 'etl'), eq(dagRuns.runId, runId)));
    const tasks = await db
      .select({ taskId: taskInstances.taskId, state: taskInstances.state, tries: taskInstances.tryNumber })
      .from(taskInstances)
      .where(eq(taskInstances.runId, run!.id));
    const audit = await db
      .select({ actor: auditLog.actor, action: auditLog.action, taskId: auditLog.taskId, details: auditLog.details })
      .from(auditLog)
      .where(eq(auditLog.runId, runId));
    return {
      state: run!.state,
      tasks: Object.fromEntries(tasks.map((t) => [t.taskId, `${t.state ?? 'none'} ${t.tries}`])),
      audit,
    };
  });
}

describe('clearing, marking and cancelling runs from the CLI', () => {
  it(
    'clear --dry-run lists what a clear by regex with --downstream would take, and writes nothing',
    async () => {
      const failed = await updraft(['dags', 'test', 'etl', '2030-01-01', '--json']);
      expect(failed.code).toBe(1);
      expect(JSON.parse(failed.stdout)).toMatchObject({ runId: RUN, state: 'failed' });
      const before = await stored(RUN);
      expect(before).toEqual({
        state: 'failed',
        tasks: { extract: 'failed 1', load: 'upstream_failed 0', notify: 'success 1' },
        audit: [],
      });

      const dry = await updraft(['clear', 'etl', '--run', RUN, '--task', '^ext', '--downstream', '--dry-run']);
      expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
      expect(table(dry.stdout)).toEqual([
        ['run_id', 'task', 'state', 'tries'],
        [RUN, 'extract', 'failed', '1'],
        [RUN, 'load', 'upstream_failed', '0'],
        [RUN, 'notify', 'success', '1'],
        ['would clear 3 task instance(s) in 1 run of etl (dry run: nothing changed)'],
      ]);
      expect(await stored(RUN)).toEqual(before);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'clear needs a run or a date range, and --only-failed narrows a clear by regex to the failed task instances',
    async () => {
      const unscoped = await updraft(['clear', 'etl']);
      expect(unscoped).toMatchObject({ code: 1, stdout: '' });
      expect(unscoped.stderr).toBe(
        'updraft: clearing needs a run or a range of logical dates (--run, --from, --to): without them it would clear every run\n',
      );

      // No terminal on stdin: no question asked.
      const cleared = await updraft([
        'clear',
        'etl',
        '--from',
        '2030-01-01',
        '--to',
        '2030-01-01T23:59',
        '--task',
        'ext|load',
        '--only-failed',
        '--json',
      ]);
      expect({ code: cleared.code, stderr: cleared.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(cleared.stdout)).toEqual({
        dagId: 'etl',
        dryRun: false,
        count: 2,
        runs: [
          {
            runId: RUN,
            logicalDate: '2030-01-01T00:00:00.000Z',
            state: 'failed',
            tasks: [
              { taskId: 'extract', state: 'failed', tryNumber: 1 },
              { taskId: 'load', state: 'upstream_failed', tryNumber: 0 },
            ],
          },
        ],
      });
      const after = await stored(RUN);
      // Queued again for a scheduler to start; the try count is kept.
      expect(after.state).toBe('queued');
      expect(after.tasks).toEqual({ extract: 'none 1', load: 'none 0', notify: 'success 1' });
      expect(after.audit).toEqual([
        {
          actor: ACTOR,
          action: 'task.clear',
          taskId: null,
          details: expect.objectContaining({
            count: 2,
            runs: { [RUN]: ['extract', 'load'] },
            selection: expect.objectContaining({ taskRegex: 'ext|load', onlyFailed: true }),
          }),
        },
      ]);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'runs mark sets a run success (its unfinished tasks too) or failed, and refuses another state',
    async () => {
      const success = await updraft(['runs', 'mark', 'etl', RUN, 'success']);
      expect({ code: success.code, stderr: success.stderr }).toEqual({ code: 0, stderr: '' });
      expect(table(success.stdout)).toEqual([
        [`marked etl ${RUN}: queued -> success`],
        ['task', 'was', 'now'],
        ['extract', 'none', 'success'],
        ['load', 'none', 'success'],
      ]);
      expect(await stored(RUN)).toMatchObject({
        state: 'success',
        tasks: { extract: 'success 1', load: 'success 0', notify: 'success 1' },
      });

      const failed = await updraft(['runs', 'mark', 'etl', 'latest', 'failed', '--json']);
      expect({ code: failed.code, stderr: failed.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(failed.stdout)).toEqual({
        dagId: 'etl',
        runId: RUN,
        previous: 'success',
        state: 'failed',
        tasks: [],
      });
      const after = await stored(RUN);
      expect(after.state).toBe('failed');
      expect(after.audit.map((a) => `${a.actor} ${a.action}`)).toEqual(
        expect.arrayContaining([`${ACTOR} run.mark_success`, `${ACTOR} run.mark_failed`]),
      );

      const wrong = await updraft(['runs', 'mark', 'etl', RUN, 'running']);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain('the state must be success or failed');
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'runs cancel stops a queued run; an ended run cannot be cancelled; tasks logs latest skips the queued run without the task',
    async () => {
      const queued = await updraft(['dags', 'trigger', 'etl', '--logical-date', '2031-01-01']);
      expect(queued).toMatchObject({ code: 0, stdout: `queued etl ${QUEUED_RUN}\n` });
      // The queued run has no task instances yet: 'latest' is the newest run that has the task.
      const logs = await updraft(['tasks', 'logs', 'etl', 'latest', 'extract', '--json']);
      expect(logs.code, logs.stderr).toBe(0);
      expect(JSON.parse(logs.stdout)).toMatchObject({ runId: RUN, taskId: 'extract' });

      const cancelled = await updraft(['runs', 'cancel', 'etl', QUEUED_RUN]);
      expect(cancelled).toEqual({ code: 0, stdout: `cancelled etl ${QUEUED_RUN}: queued -> failed\n`, stderr: '' });
      const after = await stored(QUEUED_RUN);
      expect(after).toMatchObject({ state: 'failed', tasks: {} });
      expect(after.audit).toContainEqual({
        actor: ACTOR,
        action: 'run.cancel',
        taskId: null,
        details: { previous: 'queued', state: 'failed', tasks: {}, stopped: [] },
      });

      const again = await updraft(['runs', 'cancel', 'etl', QUEUED_RUN]);
      expect(again).toMatchObject({ code: 1, stdout: '' });
      expect(again.stderr).toBe(
        `updraft: run '${QUEUED_RUN}' of DAG 'etl' has already ended (failed): only queued or running runs can be cancelled ('updraft runs mark' changes an ended run's state)\n`,
      );
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'an unknown DAG or run is one line naming it, without a stack trace',
    async () => {
      // One after the other: the embedded database is one process's at a time.
      const results = [];
      for (const args of [
        ['clear', 'nope', '--run', 'latest'],
        ['runs', 'mark', 'etl', 'manual__1999', 'success'],
        ['runs', 'cancel', 'nope', 'latest'],
      ]) {
        results.push(await updraft(args));
      }
      expect(results.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
        [1, '', "updraft: no DAG with id 'nope' (see 'updraft dags list')\n"],
        [1, '', "updraft: DAG 'etl' has no run 'manual__1999' (see 'updraft runs list etl')\n"],
        [1, '', "updraft: no DAG with id 'nope' (see 'updraft dags list')\n"],
      ]);
      for (const { stderr } of results) expect(stderr).not.toMatch(STACK_FRAME);
    },
    CLI_TEST_TIMEOUT,
  );
});
