/**
 * A pending retry is a row, not a timer: it survives the process that scheduled it
 * and starts, in the next process, no earlier than its time.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { dagRuns, taskInstances } from '../../src/db/schema.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';
import { startEngine, taskLog } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';

export default dag({ id: 'patient' }, (t) => {
  t.task('fetch', { retries: 1, retryDelay: '1500ms' }, async (ctx) => {
    if (ctx.tryNumber === 1) throw new Error('not ready yet');
    return { fetched: true };
  });
});
`;

let database: Database;
let folder: DagFolder;

beforeAll(async () => {
  database = await testDatabase();
  folder = await makeDagFolder();
  await folder.write('patient.ts', DAGS);
});

afterAll(async () => {
  await folder?.cleanup();
});

describe('a pending retry', () => {
  it('survives a restart and starts no earlier than its time', async () => {
    const first = await startEngine(database, folder.path);
    const waiting = first.next('task:state', (e) => e.taskId === 'fetch' && e.state === 'up_for_retry');
    const { id } = await first.trigger('patient');
    await waiting;
    await first.stop();

    const [pending] = await database.db.select().from(taskInstances).where(eq(taskInstances.runId, id));
    expect(pending).toMatchObject({ state: 'up_for_retry', tryNumber: 1 });
    const retryAt = pending!.nextTryAt!;

    const second = await startEngine(database, folder.path);
    try {
      await second.next('task:state', (e) => e.runRowId === id && e.taskId === 'fetch' && e.state === 'success');
      const [done] = await database.db.select().from(taskInstances).where(eq(taskInstances.runId, id));
      expect(done).toMatchObject({ state: 'success', tryNumber: 2 });
      expect(done!.startedAt!.getTime()).toBeGreaterThanOrEqual(retryAt.getTime());
      const [run] = await database.db.select({ state: dagRuns.state }).from(dagRuns).where(eq(dagRuns.id, id));
      expect(run!.state).toBe('success');
      expect((await taskLog(database, id, 'fetch')).map((l) => [l.tryNumber, l.message.split('\n')[0]])).toContainEqual(
        [1, expect.stringContaining('not ready yet')],
      );
      expect(second.errors).toEqual([]);
    } finally {
      await second.stop();
    }
  });
});
