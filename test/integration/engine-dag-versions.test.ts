/**
 * Fix and run again in the same process: a try runs the DAG file as the processor last
 * stored it when the try starts, not the code its run was created with (docs/engine.md),
 * and records the version it ran, shown by `tasks states --json` and the task page.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { clearTaskInstances } from '../../src/state/clear.js';
import { taskStates } from '../../src/catalog/task-states.js';
import type { FileReport } from '../../src/processor/store.js';
import { runPages } from '../../src/web/ui/pages/runs.js';
import { nextEnd, useEngine, type EngineSetup } from '../support/engine.js';
import { uiClient, uiSessions } from '../support/ui.js';

const version = (body: string) => `import { dag } from 'updraft';
export default dag({ id: 'fixme' }, (t) => {
  t.task('load', async () => {
    ${body}
  });
});
`;

const setup = useEngine({ 'fixme.ts': version("throw new Error('BUG v1');") });

/** Writes a new version of the file and waits until the engine's processor has stored it. */
async function storeNewVersion({ h, folder }: EngineSetup, source: string): Promise<void> {
  const processor = h.engine.processor!;
  const stored = new Promise<void>((resolve) => {
    const listener = (reports: FileReport[]) => {
      if (!reports.some((r) => r.newVersions.includes('fixme'))) return;
      processor.events.off('parsed', listener);
      resolve();
    };
    processor.events.on('parsed', listener);
  });
  await folder.write('fixme.ts', source);
  await stored;
}

describe('a DAG fixed while the engine runs', () => {
  // Two runs and a parse: generous on a loaded 2-core machine.
  it('runs the fixed code when the failed task is cleared, and records the version each try ran', {
    timeout: 90_000,
  }, async () => {
    const engine = setup();
    const { h, database } = engine;
    const run = await h.run('fixme');
    expect(run.tasks.load).toMatchObject({ state: 'failed', tryNumber: 1, error: 'BUG v1' });

    await storeNewVersion(engine, version("return 'fixed in v2';"));
    const ended = nextEnd(h, run.id);
    await clearTaskInstances(database.db, 'fixme', { actor: 'test', runId: run.runId });
    expect(await ended).toBe('success');

    const { tasks } = await taskStates(database.db, 'fixme', run.runId);
    expect(tasks).toMatchObject([
      {
        taskId: 'load',
        state: 'success',
        tryNumber: 2,
        dagVersion: 2,
        tries: [
          { tryNumber: 1, dagVersion: 1 },
          { tryNumber: 2, dagVersion: 2 },
        ],
      },
    ]);
    expect(tasks[0]!.error).toBeNull();

    // The task page says which version each try ran.
    const app = new Hono();
    app.use('*', authenticate(database.db, authOptions(h.engine.config)));
    app.route('/', runPages(h.engine));
    const { viewer } = await uiSessions(database.db, 'versions');
    const { get } = uiClient(() => app);
    const page = `/ui/dags/fixme/runs/${encodeURIComponent(run.runId)}/tasks/load`;
    const latest = await get(page, viewer);
    expect(latest.status).toBe(200);
    expect(latest.html).toMatch(/<th>DAG version<\/th>\s*<td>2<\/td>/);
    expect(latest.html).toContain('Try 2 ran DAG version 2.');
    expect((await get(`${page}?try=1`, viewer)).html).toContain('Try 1 ran DAG version 1.');
  });
});
