/**
 * A regression floor for the engine's cost per task that no machine's speed can move:
 * the number of SQL statements per finished task, for a chain (one task ready at a time:
 * the worst case for batching) and for a wide run (many tasks finishing together: group
 * commit and batched claims). Figures measured when this was written are in the comments;
 * the limits leave room for batching that varies with timing and for the scheduler's
 * passes meanwhile, and fail on a few times more statements, well before 10x. Speed itself is measured in bench/ (docs/performance.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testDatabase, testDriver } from '../support/db.js';
import { startEngine, type TestEngine } from '../support/engine.js';
import { countStatements, type StatementCounter } from '../support/statements.js';

const CHAIN = 30;
const WIDE = 600;

let folder: DagFolder;
let counter: StatementCounter;
let h: TestEngine;

beforeAll(async () => {
  folder = await makeDagFolder({
    'chain.ts': `import { dag } from 'updraft';
export default dag({ id: 'chain' }, (t) => t.chain(...Array.from({ length: ${CHAIN} }, (_, i) => t.task('s' + i, async () => i))));
`,
    'wide.ts': `import { dag } from 'updraft';
export default dag({ id: 'wide', maxActiveTasks: ${WIDE} }, (t) => {
  for (let i = 0; i < ${WIDE}; i++) t.task('w' + i, async () => i);
});
`,
  });
  counter = countStatements(await testDatabase());
  // No safety-net poll within a test's time: a run that moved on only at the poll (work
  // left unclaimed until then) would fail here rather than pass with fewer statements.
  h = await startEngine(counter.database, folder.path, { UPDRAFT_SCHEDULER_POLL_INTERVAL: '10m' });
});

afterAll(async () => {
  await h?.stop();
  await folder?.cleanup();
});

/** Statements per finished task of one run of `dagId`, from its trigger to its end. */
async function perTask(dagId: string, tasks: number): Promise<{ perTask: number; counts: Map<string, number> }> {
  counter.reset();
  const run = await h.run(dagId);
  expect(run.state).toBe('success');
  expect(Object.keys(run.tasks)).toHaveLength(tasks);
  return { perTask: counter.total() / tasks, counts: counter.counts() };
}

describe('statements per finished task', () => {
  // 7.3 on PostgreSQL and 7.1 on PGlite when written: a completion's transaction (lock,
  // fenced update and XCom; downstream states; their update; the claim's lock and claim),
  // the upstream XCom read for the next try, some mark-running, the scheduler's passes.
  it(`a chain of ${CHAIN} tasks: at most 30 each`, async () => {
    const { perTask: n, counts } = await perTask('chain', CHAIN);
    expect(n, JSON.stringify(Object.fromEntries(counts))).toBeLessThanOrEqual(30);
  });

  // 0.35 on PostgreSQL when written (600 tasks in about 40 group commits); 2.2 on PGlite,
  // where results are committed a few at a time (one connection, in the main thread).
  it(`one run of ${WIDE} independent tasks: at most 1 each on PostgreSQL, 10 on PGlite`, async () => {
    const { perTask: n, counts } = await perTask('wide', WIDE);
    expect(n, JSON.stringify(Object.fromEntries(counts))).toBeLessThanOrEqual(testDriver() === 'postgres' ? 1 : 10);
  });
});
