/**
 * A DAGs folder anywhere, as it is: in the temporary directory, outside this repository,
 * with no package.json, its .ts, .mts and .js files load as ES modules in the processor
 * and in task threads, and `dags test` of a DAG whose file fails shows that file's error.
 */
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, STACK_FRAME, table, useCli } from '../support/cli.js';

const dagFile = (id: string) => `import { dag } from 'updraft';
const greeting: string = 'hello from ${id}';
export default dag({ id: '${id}' }, (t) => {
  t.task('greet', async () => greeting);
});
`;

const { updraft, setup } = useCli({
  'from_ts.ts': dagFile('from_ts'),
  'from_mts.mts': dagFile('from_mts'),
  // Plain JavaScript: no type annotation.
  'from_js.js': dagFile('from_js').replace(': string', ''),
  'nightly_load.ts':
    "import { dag } from 'updraft';\nthrow new Error('warehouse credentials missing');\nexport default dag({ id: 'nightly_load' }, () => {});\n",
});

beforeAll(async () => {
  // The usual DAGs repository has no package.json saying "type": "module".
  await rm(path.join(setup().folder.path, 'package.json'));
});

describe('a DAGs folder outside the repository, without a package.json', () => {
  it(
    'dags list loads its .ts, .mts and .js DAG files',
    async () => {
      await expect(access(path.join(setup().folder.path, 'package.json'))).rejects.toThrow();
      const list = await updraft(['dags', 'list']);
      expect(list.code).toBe(0);
      expect(table(list.stdout).map((r) => r[0])).toEqual(['dag_id', 'from_js', 'from_mts', 'from_ts']);
      expect(list.stderr).toContain('nightly_load.ts:2:7: warehouse credentials missing');
      expect(list.stderr).not.toMatch(/require\(\)|ES Module/);
    },
    CLI_TEST_TIMEOUT,
  );

  // Each in its own process: the task threads import the file again.
  it.each(['from_ts', 'from_mts', 'from_js'])(
    'dags test %s runs its task',
    async (id) => {
      const run = await updraft(['dags', 'test', id, '2030-01-01', '--json']);
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toMatchObject({
        dagId: id,
        state: 'success',
        tasks: [{ taskId: 'greet', state: 'success', tries: 1 }],
      });
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'dags test of a DAG whose file fails to load shows that error, naming the file',
    async () => {
      const broken = await updraft(['dags', 'test', 'nightly_load', '2030-01-01']);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toContain(
        "no DAG with id 'nightly_load': nightly_load.ts did not load:\n  nightly_load.ts:2:7: warehouse credentials missing",
      );
      expect(broken.stderr).not.toMatch(STACK_FRAME);
    },
    CLI_TEST_TIMEOUT,
  );
});
