/**
 * The user's loop beside a running scheduler: a task fails, the user fixes the DAG file,
 * the scheduler stores the new version, and `updraft clear` (another process) makes the
 * same scheduler, whose task threads imported the broken code, run the fixed one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { runUpdraft } from '../support/cli.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testChildDatabase } from '../support/db.js';
import { startUpdraft, stopAll } from '../support/process.js';

let folder: DagFolder | undefined;

afterAll(async () => {
  await stopAll();
  await folder?.cleanup();
});

const version = (body: string) => `import { dag } from 'updraft';
export default dag({ id: 'fixme', schedule: null }, (t) => {
  t.task('load', async () => {
    ${body}
  });
});
`;

const RUN = 'manual__2030-01-01T00:00:00+00:00';

describe('a DAG fixed beside a running scheduler', () => {
  it('updraft clear runs the fixed code in the scheduler that ran the broken one', { timeout: 240_000 }, async () => {
    const child = await testChildDatabase();
    folder = await makeDagFolder({ 'fixme.ts': version("throw new Error('BUG v1');") });
    const env = {
      ...child.env,
      UPDRAFT_DAGS_FOLDER: folder.path,
      UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false',
      UPDRAFT_SCHEDULER_POLL_INTERVAL: '200ms',
    };
    const scheduler = startUpdraft(['scheduler', '--concurrency', '1'], env);
    await scheduler.ready;

    expect(await runUpdraft(['dags', 'trigger', 'fixme', '--logical-date', '2030-01-01'], env)).toMatchObject({
      code: 0,
    });
    await scheduler.waitFor(/run \S+ of fixme failed/);

    await folder.write('fixme.ts', version("return 'fixed';"));
    // Stored at start-up, then again once changed.
    await scheduler.waitFor(/stored new versions of fixme[\s\S]*stored new versions of fixme/);
    expect(await runUpdraft(['clear', 'fixme', '--run', RUN, '--yes'], env)).toMatchObject({ code: 0 });
    await scheduler.waitFor(/run \S+ of fixme failed[\s\S]*run \S+ of fixme (failed|success)/);
    expect(scheduler.output()).toMatch(/run \S+ of fixme failed[\s\S]*run \S+ of fixme success/);

    const states = await runUpdraft(['tasks', 'states', 'fixme', RUN, '--json'], env);
    expect(JSON.parse(states.stdout).tasks).toMatchObject([
      {
        taskId: 'load',
        state: 'success',
        tryNumber: 2,
        error: null,
        dagVersion: 2,
        tries: [
          { tryNumber: 1, dagVersion: 1 },
          { tryNumber: 2, dagVersion: 2 },
        ],
      },
    ]);
  });
});
