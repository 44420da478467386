/**
 * Running DAGs and reading their history from the command line: `dags test`, `runs list`,
 * `tasks logs`, `tasks test` and `dags trigger`, as child processes against this file's
 * own database and a temporary DAGs folder. The tests run in order and build on each
 * other: the runs `dags test` leaves are what `runs list` and `tasks logs` read.
 */
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, STACK_FRAME, table, unreachableDatabaseUrl, useCli } from '../support/cli.js';

// 'fetch' fails its first try and succeeds on its retry; 'load' fails when the conf says so.
const FLAKY = `import { dag } from 'updraft';

export default dag({ id: 'flaky', schedule: null, params: { failLoad: { type: 'boolean', default: false } } }, (t) => {
  const fetch = t.task('fetch', { retries: 1, retryDelay: '100ms' }, async (ctx) => {
    ctx.log.info('fetching, try %d', ctx.tryNumber);
    console.log('console output of try', ctx.tryNumber);
    if (ctx.tryNumber === 1) throw new Error('connection reset on try 1');
    return { rows: 3 };
  });
  const load = t.task('load', async (ctx) => {
    if (ctx.params.failLoad) throw new Error('load refused: failLoad is set');
    return (await ctx.pull(fetch)).rows;
  });
  fetch.then(load);
});
`;

const ADHOC = `import { dag } from 'updraft';

export default dag({ id: 'adhoc', schedule: '@daily', startDate: '2030-01-01', params: { n: { type: 'integer', default: 1 } } }, (t) => {
  t.task('double', async (ctx) => {
    ctx.log.warn('doubling %d', ctx.params.n);
    console.log('interval', ctx.interval.start.toISOString(), ctx.interval.end.toISOString());
    return { doubled: ctx.params.n * 2, runId: ctx.runId };
  });
});
`;

const { updraft } = useCli({ 'flaky.ts': FLAKY, 'adhoc.ts': ADHOC }, { UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false' });

/** Log lines with their time replaced by '<t>', headers kept, continuation lines (stack frames) left out. */
function logEntries(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => /^(?:--- try \d+ ---|\d{4}-\d\d-\d\dT)/.test(line))
    .map((line) => line.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, '<t> '));
}

const RUN_1 = 'manual__2030-01-01T00:00:00+00:00';
const RUN_2 = 'manual__2030-01-02T00:00:00+00:00';

describe('running DAGs from the CLI and reading their runs and logs', () => {
  it(
    "dags test --json prints the run with each task's tries, exits 0 when it succeeds after a retry and 1 when it fails",
    async () => {
      const ok = await updraft(['dags', 'test', 'flaky', '2030-01-01', '--json']);
      expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(ok.stdout)).toEqual({
        dagId: 'flaky',
        runId: RUN_1,
        state: 'success',
        tasks: [
          { taskId: 'fetch', state: 'success', tries: 2, durationMs: expect.any(Number) },
          { taskId: 'load', state: 'success', tries: 1, durationMs: expect.any(Number) },
        ],
      });

      const failed = await updraft(['dags', 'test', 'flaky', '2030-01-02', '--conf', '{"failLoad": true}', '--json']);
      expect({ code: failed.code, stderr: failed.stderr }).toEqual({ code: 1, stderr: '' });
      expect(JSON.parse(failed.stdout)).toEqual({
        dagId: 'flaky',
        runId: RUN_2,
        state: 'failed',
        tasks: [
          { taskId: 'fetch', state: 'success', tries: 2, durationMs: expect.any(Number) },
          { taskId: 'load', state: 'failed', tries: 1, durationMs: expect.any(Number) },
        ],
      });
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'runs list --json shows those runs, newest logical date first',
    async () => {
      const { code, stdout, stderr } = await updraft(['runs', 'list', 'flaky', '--json']);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      const run = (runId: string, day: string, state: string) => ({
        runId,
        type: 'manual',
        state,
        logicalDate: `${day}T00:00:00.000Z`,
        // No schedule: a manual run's interval is its logical date.
        interval: { start: `${day}T00:00:00.000Z`, end: `${day}T00:00:00.000Z` },
        startedAt: expect.any(String),
        endedAt: expect.any(String),
        durationMs: expect.any(Number),
      });
      expect(JSON.parse(stdout)).toEqual([run(RUN_2, '2030-01-02', 'failed'), run(RUN_1, '2030-01-01', 'success')]);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    "tasks logs shows every try of a task, its ctx.log and console output and try 1's error; --try shows one",
    async () => {
      const all = await updraft(['tasks', 'logs', 'flaky', 'latest', 'fetch']);
      expect({ code: all.code, stderr: all.stderr }).toEqual({ code: 0, stderr: '' });
      expect(logEntries(all.stdout)).toEqual([
        '--- try 1 ---',
        '<t> INFO fetching, try 1',
        '<t> INFO console output of try 1',
        '<t> ERROR Error: connection reset on try 1',
        expect.stringMatching(/^<t> INFO try 1 of 2 failed; retrying at \d{4}-\d\d-\d\dT/),
        '--- try 2 ---',
        '<t> INFO fetching, try 2',
        '<t> INFO console output of try 2',
      ]);
      // The error's stack points into the DAG file.
      expect(all.stdout).toMatch(/^\s+at .*flaky\.ts:7:\d+/m);

      const second = await updraft(['tasks', 'logs', 'flaky', RUN_1, 'fetch', '--try', '2']);
      expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
      expect(logEntries(second.stdout)).toEqual([
        '--- try 2 ---',
        '<t> INFO fetching, try 2',
        '<t> INFO console output of try 2',
      ]);
      expect(second.stdout.trimEnd().split('\n')).toHaveLength(3);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'tasks test runs one task with no database at all: its log and result, exit 1 when it fails',
    async () => {
      // Nobody listens at this URL: a child that opened the database would fail.
      const noDatabase = { DATABASE_URL: await unreachableDatabaseUrl() };
      const [ok, refused, alone, badState] = await Promise.all([
        updraft(['tasks', 'test', 'adhoc', 'double', '2030-02-03T10:00', '--conf', '{"n": 21}'], noDatabase),
        updraft(['tasks', 'test', 'flaky', 'load', '--conf', '{"failLoad": true}'], noDatabase),
        updraft(['tasks', 'test', 'flaky', 'load'], noDatabase),
        // Wrong flags stop before the database too.
        updraft(['runs', 'list', 'flaky', '--state', 'done'], noDatabase),
      ]);

      expect(ok.code).toBe(0);
      expect(ok.stderr).toBe(
        'testing adhoc.double: logical date 2030-02-03T10:00:00Z, run test__2030-02-03T10:00:00.000Z; no state is stored\n',
      );
      expect(logEntries(ok.stdout)).toEqual([
        '<t> WARN doubling 21',
        // @daily: the last complete interval before the logical date.
        '<t> INFO interval 2030-02-02T00:00:00.000Z 2030-02-03T00:00:00.000Z',
      ]);
      expect(ok.stdout.slice(ok.stdout.indexOf('success'))).toBe(
        `success: ${JSON.stringify({ doubled: 42, runId: 'test__2030-02-03T10:00:00.000Z' }, null, 2)}\n`,
      );

      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(
        /^failed: load refused: failLoad is set\nError: load refused: failLoad is set\n\s+at .*flaky\.ts:11:\d+/m,
      );

      expect(alone.code).toBe(1);
      expect(alone.stdout).toBe(
        "failed: tasks test runs one task alone: the result of upstream task 'fetch' is not available\n",
      );

      expect(badState.code).toBe(2);
      expect(badState.stderr).toMatch(
        /^error: option '--state <state>' argument 'done' is invalid\. --state must be one of queued, running, success, failed, got 'done'\n/,
      );
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'dags trigger queues a manual run that runs list shows queued; a conf that does not match the params exits 1 naming the param',
    async () => {
      const queued = await updraft([
        'dags',
        'trigger',
        'adhoc',
        '--logical-date',
        '2030-03-01T12:00',
        '--conf',
        '{"n": 1}',
      ]);
      expect(queued).toEqual({ code: 0, stdout: 'queued adhoc manual__2030-03-01T12:00:00+00:00\n', stderr: '' });

      const wrong = await updraft(['dags', 'trigger', 'adhoc', '--conf', '{"n": "one"}']);
      expect(wrong).toEqual({
        code: 1,
        stdout: '',
        stderr: `updraft: conf does not match the params of DAG 'adhoc': n: value "one" is not of type integer\n`,
      });

      // The filter keeps the queued run (the tasks test above, on this DAG too, stored none).
      const listed = await updraft(['runs', 'list', 'adhoc', '--state', 'queued']);
      expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
      expect(table(listed.stdout)).toEqual([
        ['run_id', 'type', 'state', 'logical_date', 'data_interval', 'started', 'ended', 'duration'],
        [
          'manual__2030-03-01T12:00:00+00:00',
          'manual',
          'queued',
          '2030-03-01T12:00:00Z',
          '2030-02-28T00:00:00Z/2030-03-01T00:00:00Z',
          '-',
          '-',
          '-',
        ],
      ]);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'an unknown DAG, run or try fails with one line naming it',
    async () => {
      const noDag = await updraft(['runs', 'list', 'nope']);
      expect(noDag).toEqual({
        code: 1,
        stdout: '',
        stderr: "updraft: no DAG with id 'nope' (see 'updraft dags list')\n",
      });

      const noTry = await updraft(['tasks', 'logs', 'flaky', RUN_1, 'load', '--try', '2']);
      expect(noTry).toEqual({
        code: 1,
        stdout: '',
        stderr: `updraft: task 'load' of run '${RUN_1}' has no try 2: it has had 1 try\n`,
      });

      for (const { stderr } of [noDag, noTry]) expect(stderr).not.toMatch(STACK_FRAME);
    },
    CLI_TEST_TIMEOUT,
  );
});
