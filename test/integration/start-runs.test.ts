/**
 * Starting queued runs: within each DAG's maxActiveRuns, oldest first, and one DAG's
 * backlog never holds back another DAG's runs.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { dagRuns, dags } from '../../src/db/schema.js';
import { DagProcessor } from '../../src/processor/processor.js';
import { DagCache } from '../../src/state/dag-cache.js';
import { triggerRun } from '../../src/scheduler/runs.js';
import { startQueuedRuns } from '../../src/state/start-runs.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';

let database: Database;
let folder: DagFolder;

beforeAll(async () => {
  database = await testDatabase();
  folder = await makeDagFolder({
    'busy.ts': `import { dag } from 'updraft';
export default dag({ id: 'busy', maxActiveRuns: 1, pausedAtCreation: false }, (t) => void t.task('a', async () => 1));`,
    'quiet.ts': `import { dag } from 'updraft';
export default dag({ id: 'quiet', pausedAtCreation: false }, (t) => void t.task('a', async () => 1));`,
  });
  await new DagProcessor(database.db, {
    dagsFolder: folder.path,
    pausedAtCreation: true,
    importTimeoutMs: 10_000,
    dagsPollMs: 1_000,
  }).refresh();
});

afterAll(async () => {
  await folder?.cleanup();
});

describe('startQueuedRuns', () => {
  it('starts the oldest run of a capped DAG and the runs of other DAGs queued after its backlog', async () => {
    // 250 queued runs of 'busy' (more than one pass looks at), then one of 'quiet'.
    for (let i = 0; i < 250; i++)
      await triggerRun(database.db, 'busy', { actor: 'test', logicalDate: new Date(Date.UTC(2026, 0, 1, 0, i)) });
    await triggerRun(database.db, 'quiet', { actor: 'test', logicalDate: new Date(Date.UTC(2026, 5, 1)) });

    const started = await startQueuedRuns(database.db, new DagCache(database.db));
    expect(started?.map((r) => r.dagId).sort()).toEqual(['busy', 'quiet']);

    const running = await database.db
      .select({ dagId: dags.dagId, logicalDate: dagRuns.logicalDate })
      .from(dagRuns)
      .innerJoin(dags, eq(dags.id, dagRuns.dagId))
      .where(eq(dagRuns.state, 'running'));
    expect(running).toContainEqual({ dagId: 'busy', logicalDate: new Date(Date.UTC(2026, 0, 1, 0, 0)) });
    expect(running).toHaveLength(2);

    // Full: nothing more starts until a run ends.
    expect(await startQueuedRuns(database.db, new DagCache(database.db))).toEqual([]);
  });
});
