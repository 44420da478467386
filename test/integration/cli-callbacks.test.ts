/**
 * Callbacks as a CLI user meets them (docs/callbacks.md): `dags test` runs a DAG whose
 * task and run callbacks log and fail, `tasks logs` shows the task callbacks' lines under
 * their try, and `runs list` shows the failed run callback beside its run.
 */
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, useCli } from '../support/cli.js';

const DAG = `import { dag } from 'updraft';

export default dag({
  id: 'cb_cli',
  onFailure: (ctx, info) => {
    ctx.log.info('run failed in tasks %s', info.failedTasks.join(','));
    throw new Error('pager is down');
  },
}, (t) => {
  t.task('fetch', {
    retries: 1,
    retryDelay: '100ms',
    onRetry: (ctx, info) => ctx.log.warn('retrying after: %s', info.error),
    onFailure: (ctx, info) => ctx.log.error('gave up on try %d of %d', info.tryNumber, info.maxTries),
  }, async (ctx) => {
    throw new Error('source offline on try ' + ctx.tryNumber);
  });
});
`;

const RUN = 'manual__2030-01-01T00:00:00+00:00';

const { updraft } = useCli({ 'cb_cli.ts': DAG }, { UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false' });

describe('callbacks from the CLI', () => {
  it(
    'dags test runs the callbacks; tasks logs and runs list show what they did',
    async () => {
      const test = await updraft(['dags', 'test', 'cb_cli', '2030-01-01', '--json']);
      expect(test.code).toBe(1);
      expect(JSON.parse(test.stdout)).toMatchObject({
        runId: RUN,
        state: 'failed',
        tasks: [{ taskId: 'fetch', state: 'failed', tries: 2 }],
      });

      const logs = await updraft(['tasks', 'logs', 'cb_cli', RUN, 'fetch']);
      expect(logs.code).toBe(0);
      const lines = logs.stdout.split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\dT\S+ /, ''));
      const at = (text: string) => lines.findIndex((l) => l.includes(text));
      for (const text of [
        'running the onRetry callback',
        'retrying after: source offline on try 1',
        'running the onFailure callback',
        'gave up on try 2 of 2',
      ]) {
        expect(at(text), `'${text}' in:\n${logs.stdout}`).toBeGreaterThan(-1);
      }
      // Each under its own try.
      expect(at('--- try 1 ---')).toBeLessThan(at('retrying after'));
      expect(at('--- try 2 ---')).toBeLessThan(at('gave up on try 2'));
      expect(at('retrying after')).toBeLessThan(at('--- try 2 ---'));

      const list = await updraft(['runs', 'list', 'cb_cli']);
      expect(list.code).toBe(0);
      expect(list.stdout).toContain(`run ${RUN}: onFailure callback failed: pager is down`);
      const json = await updraft(['runs', 'list', 'cb_cli', '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject([
        { runId: RUN, state: 'failed', callbackError: 'onFailure callback failed: pager is down' },
      ]);
    },
    CLI_TEST_TIMEOUT,
  );
});
