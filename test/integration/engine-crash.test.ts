/**
 * Crash safety: `updraft standalone` is killed with SIGKILL while a task runs, then
 * started again. The run is neither lost nor duplicated, the interrupted task is
 * retried (or failed when it has no retries) after its owner's heartbeat is lost, the
 * work that was waiting goes on, and no task ever ran twice at once.
 *
 * Tasks report to a file (one JSON line per start), since they run in another process.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedDataDir } from '../../src/db/client.js';
import { dagRuns, dags, taskInstances } from '../../src/db/schema.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testChildDatabase, testDriver, type ChildDatabase } from '../support/db.js';
import { taskLog, taskStates } from '../support/engine.js';
import { startUpdraft, stopAll, untilFile, type UpdraftProcess } from '../support/process.js';

const dagsSource = (dir: string) => `import { appendFileSync, existsSync } from 'node:fs';
import { dag, type TaskContext } from 'updraft';

const DIR = ${JSON.stringify(dir)};
const started = (ctx: TaskContext) =>
  appendFileSync(DIR + '/starts.log', JSON.stringify({ dag: ctx.dagId, task: ctx.taskId, try: ctx.tryNumber, pid: process.pid, at: Date.now() }) + '\\n');
async function gate() {
  while (!existsSync(DIR + '/open')) await new Promise((r) => setTimeout(r, 25));
}

export const crash_retry = dag({ id: 'crash_retry', schedule: '@once', startDate: '2026-01-01' }, (t) => {
  const first = t.task('first', async (ctx) => { started(ctx); return 1; });
  const second = t.task('second', { retries: 1, retryDelay: '100ms' }, async (ctx) => { started(ctx); await gate(); return { pid: process.pid }; });
  const third = t.task('third', async (ctx) => { started(ctx); return 3; });
  first.then(second).then(third);
});

export const crash_no_retry = dag({ id: 'crash_no_retry', schedule: '@once', startDate: '2026-01-01' }, (t) => {
  const hold = t.task('hold', async (ctx) => { started(ctx); await gate(); return 1; });
  const report = t.task('report', async (ctx) => { started(ctx); return 2; });
  const cleanup = t.task('cleanup', { triggerRule: 'all_done' }, async (ctx) => { started(ctx); return 3; });
  hold.then([report, cleanup]);
});
`;

interface Start {
  dag: string;
  task: string;
  try: number;
  pid: number;
  at: number;
}

const parse = (content: string): Start[] =>
  content
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Start);

const has = (task: string, tryNumber: number) => (content: string) =>
  parse(content).some((s) => s.task === task && s.try === tryNumber);

let child: ChildDatabase;
let folder: DagFolder;
let env: Record<string, string>;

beforeAll(async () => {
  child = await testChildDatabase();
  folder = await makeDagFolder();
  await folder.write('crash.ts', dagsSource(folder.path));
  env = {
    ...child.env,
    UPDRAFT_DAGS_FOLDER: folder.path,
    UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false',
    UPDRAFT_PORT: '0',
    UPDRAFT_CONCURRENCY: '2',
    UPDRAFT_HEARTBEAT_INTERVAL: '500ms',
    UPDRAFT_HEARTBEAT_TIMEOUT: '2s',
    UPDRAFT_SCHEDULER_POLL_INTERVAL: '500ms',
    UPDRAFT_SHUTDOWN_GRACE: '5s',
    UPDRAFT_LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  await stopAll();
  await folder?.cleanup();
});

/**
 * The embedded database's lock (proper-lockfile, refreshed every 5 s) is taken over once
 * it is 10 s old: until then a new process is refused. Wait for that, not for a fixed time.
 */
async function untilEmbeddedLockIsStale(): Promise<void> {
  if (testDriver() !== 'pglite') return;
  const lock = `${embeddedDataDir(env.UPDRAFT_HOME!)}.lock`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const info = await stat(lock).catch(() => null);
    if (!info || info.mtimeMs < Date.now() - 10_500) return;
    if (Date.now() > deadline) throw new Error(`the lock ${lock} of the killed process did not go stale`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Until the tasks' instances are `running` in the database (through the server's socket on the embedded database). */
async function untilRunning(taskIds: string[]): Promise<void> {
  const database = await child.open();
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const rows = await database.db
        .select({ state: taskInstances.state })
        .from(taskInstances)
        .where(inArray(taskInstances.taskId, taskIds));
      if (rows.length === taskIds.length && rows.every((r) => r.state === 'running')) return;
      if (Date.now() > deadline)
        throw new Error(`${taskIds.join(', ')} not running within 10 s: ${JSON.stringify(rows)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await database.close();
  }
}

describe('kill -9 mid-run, then restart', () => {
  it('finishes the run once, retrying the interrupted task, failing the one without retries', {
    timeout: 90_000,
  }, async () => {
    const starts = path.join(folder.path, 'starts.log');
    const output = (p: UpdraftProcess) => () => `process output:\n${p.output()}`;

    const before = startUpdraft(['standalone'], env);
    await before.ready;
    await untilFile(starts, (c) => has('second', 1)(c) && has('hold', 1)(c), 30_000, output(before));
    // Started as the database sees it: a try it still sees as queued would be handed back.
    await untilRunning(['second', 'hold']);
    await before.kill();
    const killedAt = Date.now();
    expect(await before.exited).toEqual({ code: null, signal: 'SIGKILL' });

    await untilEmbeddedLockIsStale();
    const after = startUpdraft(['standalone'], env);
    await after.ready;
    // The restarted process reaps the lost tries (at once on the embedded database, after the
    // heartbeat timeout on PostgreSQL): 'second' gets try 2, 'hold' fails.
    await untilFile(starts, has('second', 2), 30_000, output(after));
    await folder.write('open', '');
    await untilFile(starts, (c) => has('third', 1)(c) && has('cleanup', 1)(c), 30_000, output(after));
    // A graceful stop lets the running tries finish and commit.
    expect(await after.stop()).toEqual({ code: 0, signal: null });

    const database = await child.open();
    const runs = await database.db
      .select({ id: dagRuns.id, dagId: dags.dagId, logicalDate: dagRuns.logicalDate, state: dagRuns.state })
      .from(dagRuns)
      .innerJoin(dags, eq(dags.id, dagRuns.dagId))
      .orderBy(dags.dagId);
    expect(runs.map((r) => [r.dagId, r.logicalDate.toISOString(), r.state])).toEqual([
      ['crash_no_retry', '2026-01-01T00:00:00.000Z', 'failed'],
      ['crash_retry', '2026-01-01T00:00:00.000Z', 'success'],
    ]);

    const [noRetry, retry] = runs;
    const retried = await taskStates(database, retry!.id);
    expect(retried).toMatchObject({
      first: { state: 'success', tryNumber: 1 },
      second: { state: 'success', tryNumber: 2, result: { pid: after.pid } },
      third: { state: 'success', tryNumber: 1 },
    });
    const lost = (await taskLog(database, retry!.id, 'second')).filter((l) => l.tryNumber === 1);
    expect(lost.map((l) => l.message)).toContainEqual(
      expect.stringMatching(/^no heartbeat from .*:\d+:\w+ for \d+m?s: the worker died or lost the database$/),
    );

    expect(await taskStates(database, noRetry!.id)).toMatchObject({
      hold: { state: 'failed', tryNumber: 1, error: expect.stringMatching(/^no heartbeat from /) },
      report: { state: 'upstream_failed', tryNumber: 0 },
      cleanup: { state: 'success', tryNumber: 1 },
    });

    // Who ran what: every try started once; the retry only after the first process was dead.
    const log = parse(await untilFile(starts, () => true, 0));
    expect(
      log
        .map(
          (s) =>
            `${s.dag}.${s.task}#${s.try}@${s.pid === before.pid ? 'before' : s.pid === after.pid ? 'after' : s.pid}`,
        )
        .sort(),
    ).toEqual([
      'crash_no_retry.cleanup#1@after',
      'crash_no_retry.hold#1@before',
      'crash_retry.first#1@before',
      'crash_retry.second#1@before',
      'crash_retry.second#2@after',
      'crash_retry.third#1@after',
    ]);
    const retry2 = log.find((s) => s.task === 'second' && s.try === 2)!;
    expect(retry2.at).toBeGreaterThanOrEqual(killedAt);
  });
});
