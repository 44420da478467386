/**
 * A backfill's decisions, pass by pass, on a prepared history (no executor: each test
 * drives the scheduler's backfill step and ends runs itself): which dates are created,
 * cleared or left alone under each reprocess behaviour, the backfill's own limit of
 * active runs, its order, lazy planning of a large range, and the dry run writing nothing.
 */
import { and, asc, count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { advanceBackfills } from '../../src/backfill/advance.js';
import {
  activeBackfill,
  createBackfill,
  dryRunBackfill,
  isSameRequest,
  type BackfillRequest,
} from '../../src/backfill/create.js';
import { cancelBackfill, pauseBackfill, resumeBackfill } from '../../src/backfill/manage.js';
import { backfillDates, backfillProgress } from '../../src/backfill/read.js';
import type { Database } from '../../src/db/client.js';
import { auditLog, backfillRuns, backfills, dagRuns, dags, dagVersions, taskInstances } from '../../src/db/schema.js';
import { ConfigError, UpdraftError } from '../../src/errors.js';
import { DagProcessor } from '../../src/processor/processor.js';
import { lastScheduledInterval } from '../../src/catalog/dags.js';
import { DagCache } from '../../src/state/dag-cache.js';
import { runValues } from '../../src/state/new-run.js';
import { startQueuedRuns } from '../../src/state/start-runs.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';

let database: Database;
let folder: DagFolder;
let cache: DagCache;

const day = (d: number) => new Date(Date.UTC(2026, 0, d));
const NOW = new Date(Date.UTC(2026, 1, 1));

beforeAll(async () => {
  database = await testDatabase();
  cache = new DagCache(database.db);
  folder = await makeDagFolder({
    'daily.ts': `import { dag } from 'updraft';
export default dag({ id: 'daily', schedule: '@daily', startDate: '2025-01-01', maxActiveRuns: 1, params: { label: { type: 'string', default: 'x' } } }, (t) => {
  t.task('a', async () => 1).then(t.task('b', async () => 2));
});`,
    'often.ts': `import { dag } from 'updraft';
export default dag({ id: 'often', schedule: '*/5 * * * *', timezone: 'America/New_York', startDate: '2025-01-01' }, (t) => void t.task('a', async () => 1));`,
    'manual.ts': `import { dag } from 'updraft';
export default dag({ id: 'manual', schedule: null }, (t) => void t.task('a', async () => 1));`,
  });
  // New DAGs start paused: backfills run paused DAGs all the same.
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

beforeEach(async () => {
  await database.db.delete(backfills);
  await database.db.delete(dagRuns);
});

async function dagRow(dagId: string): Promise<{ id: string; versionId: string }> {
  const [row] = await database.db
    .select({ id: dags.id, versionId: dags.latestVersionId })
    .from(dags)
    .where(eq(dags.dagId, dagId));
  return { id: row!.id, versionId: row!.versionId! };
}

/** A run of 'daily' at January `d`, in `state`, as an earlier schedule left it. */
async function history(d: number, state: 'success' | 'failed' | 'running' | 'queued'): Promise<void> {
  const dag = await dagRow('daily');
  const info = { logicalDate: day(d), interval: { start: day(d), end: day(d + 1) }, runAfter: day(d + 1) };
  await database.db
    .insert(dagRuns)
    .values({ ...runValues(dag.id, dag.versionId, 'scheduled', info, { label: 'old' }), state });
}

const request = (extra: Partial<BackfillRequest> = {}): BackfillRequest => ({
  dagId: 'daily',
  from: '2026-01-01',
  to: '2026-01-05',
  ...extra,
});

/** Every date of the backfill with what happened to it, as 'YYYY-MM-DD outcome[ reason]'. */
async function outcomes(id: number): Promise<string[]> {
  const { dates } = await backfillDates(database.db, id, { limit: 1000 });
  return dates.map(
    (d) => `${d.logicalDate.toISOString().slice(0, 10)} ${d.outcome ?? 'pending'}${d.reason ? ` (${d.reason})` : ''}`,
  );
}

async function runStates(): Promise<Record<string, string>> {
  const rows = await database.db
    .select({ logicalDate: dagRuns.logicalDate, state: dagRuns.state, type: dagRuns.runType })
    .from(dagRuns)
    .orderBy(asc(dagRuns.logicalDate));
  return Object.fromEntries(rows.map((r) => [r.logicalDate.toISOString().slice(0, 10), `${r.type} ${r.state}`]));
}

/** Ends every queued or running run of the backfill in `state`, as the engine would. */
async function finishActive(backfillId: number, state: 'success' | 'failed' = 'success'): Promise<void> {
  await database.db
    .update(dagRuns)
    .set({ state })
    .where(and(eq(dagRuns.backfillId, backfillId), sql`${dagRuns.state} in ('queued', 'running')`));
}

describe('reprocess behaviours on a prepared history', () => {
  // January 1 succeeded, 2 failed, 3 is running, 4 has no run, 5 is queued.
  beforeEach(async () => {
    await history(1, 'success');
    await history(2, 'failed');
    await history(3, 'running');
    await history(5, 'queued');
  });

  it('none: creates only the date without a run, and never touches queued or running runs', async () => {
    const b = await createBackfill(database.db, request({ reprocess: 'none' }), 'test', NOW);
    await advanceBackfills(database.db, cache, NOW);
    expect(await outcomes(b.id)).toEqual([
      '2026-01-01 skipped (already exists)',
      '2026-01-02 skipped (already exists)',
      '2026-01-03 skipped (in flight)',
      '2026-01-04 created',
      '2026-01-05 skipped (in flight)',
    ]);
    expect(await runStates()).toEqual({
      '2026-01-01': 'scheduled success',
      '2026-01-02': 'scheduled failed',
      '2026-01-03': 'scheduled running',
      '2026-01-04': 'backfill queued',
      '2026-01-05': 'scheduled queued',
    });
  });

  it('failed: clears the failed run and creates the missing one', async () => {
    const b = await createBackfill(database.db, request({ reprocess: 'failed', conf: { label: 'new' } }), 'test', NOW);
    await advanceBackfills(database.db, cache, NOW);
    expect(await outcomes(b.id)).toEqual([
      '2026-01-01 skipped (already exists)',
      '2026-01-02 cleared',
      '2026-01-03 skipped (in flight)',
      '2026-01-04 created',
      '2026-01-05 skipped (in flight)',
    ]);
    const [cleared] = await database.db
      .select()
      .from(dagRuns)
      .where(eq(dagRuns.logicalDate, day(2)));
    // Queued again, now the backfill's, with the backfill's conf; it keeps its run id.
    expect(cleared).toMatchObject({
      state: 'queued',
      backfillId: b.id,
      conf: { label: 'new' },
      runId: 'scheduled__2026-01-02T00:00:00+00:00',
    });
  });

  it('completed: clears failed and successful runs alike', async () => {
    const b = await createBackfill(database.db, request({ reprocess: 'completed' }), 'test', NOW);
    await advanceBackfills(database.db, cache, NOW);
    expect(await outcomes(b.id)).toEqual([
      '2026-01-01 cleared',
      '2026-01-02 cleared',
      '2026-01-03 skipped (in flight)',
      '2026-01-04 created',
      '2026-01-05 skipped (in flight)',
    ]);
    // Without --conf, a cleared run keeps its own.
    const [kept] = await database.db
      .select({ conf: dagRuns.conf })
      .from(dagRuns)
      .where(eq(dagRuns.logicalDate, day(1)));
    expect(kept!.conf).toEqual({ label: 'old' });
  });

  it('the dry run tells the same decisions and writes nothing', async () => {
    const before = await counts();
    const planned = await dryRunBackfill(database.db, request({ reprocess: 'failed' }), NOW);
    expect(
      planned.map((p) => `${p.logicalDate.toISOString().slice(0, 10)} ${p.action}${p.reason ? ` (${p.reason})` : ''}`),
    ).toEqual([
      '2026-01-01 skip (already exists)',
      '2026-01-02 clear',
      '2026-01-03 skip (in flight)',
      '2026-01-04 create',
      '2026-01-05 skip (in flight)',
    ]);
    expect(planned[1]!.existing).toEqual({ runId: 'scheduled__2026-01-02T00:00:00+00:00', state: 'failed' });
    expect(await counts()).toEqual(before);
  });
});

async function counts() {
  const n = async (
    table: typeof backfills | typeof backfillRuns | typeof dagRuns | typeof auditLog | typeof taskInstances,
  ) => (await database.db.select({ n: count() }).from(table))[0]!.n;
  return {
    backfills: await n(backfills),
    dates: await n(backfillRuns),
    runs: await n(dagRuns),
    audit: await n(auditLog),
    tasks: await n(taskInstances),
  };
}

describe('running a backfill', () => {
  it('keeps its own number of active runs and starts a new date as soon as one ends', async () => {
    const b = await createBackfill(database.db, request({ to: '2026-01-10', maxActiveRuns: 3 }), 'test', NOW);
    await advanceBackfills(database.db, cache, NOW);
    // 'daily' allows 1 active run of its own; the backfill's 3 are its own limit.
    await startQueuedRuns(database.db, cache, NOW);
    expect(await backfillProgress(database.db, b.id)).toMatchObject({
      total: 10,
      planDone: true,
      pending: 7,
      running: 3,
    });

    // One run ends: one more date starts in the next pass, not a batch of three.
    const [first] = await database.db
      .select({ id: dagRuns.id })
      .from(dagRuns)
      .where(eq(dagRuns.logicalDate, day(1)));
    await database.db.update(dagRuns).set({ state: 'failed' }).where(eq(dagRuns.id, first!.id));
    await advanceBackfills(database.db, cache, NOW);
    expect(await backfillProgress(database.db, b.id)).toMatchObject({ pending: 6, running: 2, queued: 1, failed: 1 });

    for (let i = 0; i < 4 && (await activeBackfill(database.db, 'daily')); i++) {
      await finishActive(b.id);
      await advanceBackfills(database.db, cache, NOW);
    }
    expect(await activeBackfill(database.db, 'daily')).toBeNull();
    const [done] = await database.db.select().from(backfills).where(eq(backfills.id, b.id));
    expect(done).toMatchObject({ state: 'completed' });
    expect(done!.completedAt).toEqual(NOW);
    expect(await backfillProgress(database.db, b.id)).toMatchObject({ total: 10, pending: 0, succeeded: 9, failed: 1 });
  });

  it('does not count against the DAG’s own maxActiveRuns, and its runs start after scheduled ones', async () => {
    const b = await createBackfill(database.db, request({ maxActiveRuns: 2 }), 'test', NOW);
    await advanceBackfills(database.db, cache, NOW);
    await history(20, 'queued');
    await database.db.update(dags).set({ isPaused: false }).where(eq(dags.dagId, 'daily'));
    try {
      const started = await startQueuedRuns(database.db, cache, NOW);
      const states = await runStates();
      // The DAG's own run (its limit is 1) and both backfill runs.
      expect(started).toHaveLength(3);
      expect(states['2026-01-20']).toBe('scheduled running');
      expect([states['2026-01-01'], states['2026-01-02']]).toEqual(['backfill running', 'backfill running']);
      // The scheduled run's tasks are claimed first at equal priority.
      const ready = await database.db
        .select({ backfill: taskInstances.backfill })
        .from(taskInstances)
        .where(eq(taskInstances.state, 'scheduled'))
        .orderBy(asc(taskInstances.backfill));
      expect(ready.map((r) => r.backfill)).toEqual([false, true, true]);
      // A backfill run is an automated run: the schedule goes on after the newest one.
      expect(await lastScheduledInterval(database.db, (await dagRow('daily')).id)).toEqual({
        start: day(20),
        end: day(21),
      });
    } finally {
      await database.db.update(dags).set({ isPaused: true }).where(eq(dags.dagId, 'daily'));
    }
    void b;
  });

  it('backwards: the newest date starts first', async () => {
    const b = await createBackfill(database.db, request({ backwards: true, maxActiveRuns: 2 }), 'test', NOW);
    await advanceBackfills(database.db, cache, NOW);
    expect(await outcomes(b.id)).toEqual([
      '2026-01-05 created',
      '2026-01-04 created',
      '2026-01-03 pending',
      '2026-01-02 pending',
      '2026-01-01 pending',
    ]);
  });

  it('leaves out intervals that have not ended when it is created', async () => {
    const now = new Date(Date.UTC(2026, 0, 3, 12));
    const b = await createBackfill(database.db, request({ to: '2026-01-31' }), 'test', now);
    await advanceBackfills(database.db, cache, now);
    expect(await outcomes(b.id)).toEqual(['2026-01-01 created', '2026-01-02 created']);
  });

  it('pause holds it, resume goes on, cancel stops its runs', async () => {
    const b = await createBackfill(database.db, request({ maxActiveRuns: 1 }), 'test', NOW);
    await advanceBackfills(database.db, cache, NOW);
    await pauseBackfill(database.db, b.id, 'test');
    // Paused: its queued run does not start and no new date does.
    expect(await startQueuedRuns(database.db, cache, NOW)).toEqual([]);
    await finishActive(b.id);
    await advanceBackfills(database.db, cache, NOW);
    expect(await backfillProgress(database.db, b.id)).toMatchObject({ pending: 4, queued: 0 });
    await expect(pauseBackfill(database.db, b.id, 'test')).rejects.toThrow(
      /backfill \d+ of DAG 'daily' is paused: only a running backfill can be paused/,
    );

    await resumeBackfill(database.db, b.id, 'test');
    await advanceBackfills(database.db, cache, NOW);
    await startQueuedRuns(database.db, cache, NOW);
    expect(await backfillProgress(database.db, b.id)).toMatchObject({ pending: 3, running: 1 });

    await cancelBackfill(database.db, b.id, 'test');
    expect(await backfillProgress(database.db, b.id)).toMatchObject({
      pending: 3,
      running: 0,
      failed: 1,
      succeeded: 1,
    });
    await advanceBackfills(database.db, cache, NOW);
    expect(await backfillProgress(database.db, b.id)).toMatchObject({ pending: 3 });
    const actions = await database.db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(
        sql`${auditLog.details}->>'backfillId' = ${String(b.id)} or (${auditLog.action} = 'run.cancel' and ${auditLog.runId} = 'backfill__2026-01-02T00:00:00+00:00')`,
      );
    expect(actions.map((a) => a.action).sort()).toEqual([
      'backfill.cancel',
      'backfill.create',
      'backfill.pause',
      'backfill.resume',
      'run.cancel',
    ]);
  });

  it('a backfill that cannot go on holds back no other, and the pass reports why', async () => {
    const often = await dagRow('often');
    const [version] = await database.db
      .select({ serialized: dagVersions.serialized })
      .from(dagVersions)
      .where(eq(dagVersions.id, often.versionId));
    const broken = await createBackfill(
      database.db,
      { dagId: 'often', from: '2025-06-01', to: '2025-06-02' },
      'test',
      NOW,
    );
    const fine = await createBackfill(database.db, request(), 'test', NOW);
    // As if the DAG's file had lost its schedule after the backfill was created.
    await database.db
      .update(dagVersions)
      .set({ serialized: { ...(version!.serialized as object), schedule: null } })
      .where(eq(dagVersions.id, often.versionId));
    try {
      const report = await advanceBackfills(database.db, cache, NOW);
      expect(report.errors.map((e) => e.message)).toEqual([
        expect.stringMatching(new RegExp(`^backfill ${broken.id}: DAG 'often' has no schedule intervals to backfill`)),
      ]);
      expect(await backfillProgress(database.db, fine.id)).toMatchObject({ total: 5, queued: 5 });
    } finally {
      await database.db
        .update(dagVersions)
        .set({ serialized: version!.serialized })
        .where(eq(dagVersions.id, often.versionId));
    }
  });

  it('plans a large range in chunks: the first pass starts runs long before the plan is complete', async () => {
    const now = new Date(Date.UTC(2026, 0, 1));
    const b = await createBackfill(
      database.db,
      { dagId: 'often', from: '2025-01-01', to: '2025-12-31T23:55', maxActiveRuns: 4 },
      'test',
      now,
    );
    const first = await advanceBackfills(database.db, cache, now);
    expect(first).toMatchObject({ queued: 4, again: true });
    const progress = await backfillProgress(database.db, b.id);
    expect(progress.planDone).toBe(false);
    expect(progress.total).toBeGreaterThan(0);
    expect(progress.total).toBeLessThanOrEqual(1_000);
    // Wall times in New York: the first interval starts at midnight there.
    expect((await backfillDates(database.db, b.id, { limit: 1 })).dates[0]!.logicalDate).toEqual(
      new Date('2025-01-01T05:00:00Z'),
    );
  });
});

describe('creating a backfill', () => {
  it('one unfinished backfill per DAG: the same request matches it, another is refused naming it', async () => {
    const b = await createBackfill(database.db, request(), 'test', NOW);
    const active = await activeBackfill(database.db, 'daily');
    expect(active).toMatchObject({ id: b.id, state: 'running', reprocess: 'none', maxActiveRuns: 10 });
    expect(isSameRequest(active!, request(), 'UTC')).toBe(true);
    expect(isSameRequest(active!, request({ reprocess: 'failed' }), 'UTC')).toBe(false);
    expect(isSameRequest(active!, request({ from: '2026-01-01T00:00:00+01:00' }), 'UTC')).toBe(false);
    // A conf is compared as data: the database keeps an object's keys in its own order.
    const often = { dagId: 'often', from: '2025-06-01', to: '2025-06-01' };
    const withConf = await createBackfill(database.db, { ...often, conf: { zeta: 1, alpha: 'x' } }, 'test', NOW);
    expect(isSameRequest(withConf, { ...often, conf: { alpha: 'x', zeta: 1 } }, 'America/New_York')).toBe(true);
    expect(isSameRequest(withConf, { ...often, conf: { alpha: 'y', zeta: 1 } }, 'America/New_York')).toBe(false);
    await expect(createBackfill(database.db, request({ to: '2026-01-09' }), 'test', NOW)).rejects.toThrow(
      new RegExp(`DAG 'daily' already has an unfinished backfill \\(${b.id}, running\\)`),
    );
  });

  it('refuses bad input, naming what is wrong', async () => {
    await expect(createBackfill(database.db, request({ from: '2026-01-32' }), 'test', NOW)).rejects.toThrow(
      /from: cannot read date '2026-01-32': there is no day 32/,
    );
    await expect(createBackfill(database.db, request({ from: '2026-01-09' }), 'test', NOW)).rejects.toThrow(
      /the range is empty/,
    );
    await expect(
      createBackfill(database.db, request({ from: '2027-01-01', to: '2027-02-01' }), 'test', NOW),
    ).rejects.toThrow(/is in the future/);
    await expect(createBackfill(database.db, request({ maxActiveRuns: 0 }), 'test', NOW)).rejects.toThrow(ConfigError);
    await expect(createBackfill(database.db, request({ conf: { label: 3 } }), 'test', NOW)).rejects.toThrow(/label/);
    await expect(createBackfill(database.db, { ...request(), dagId: 'manual' }, 'test', NOW)).rejects.toThrow(
      /DAG 'manual' has no schedule intervals to backfill/,
    );
    await expect(createBackfill(database.db, { ...request(), dagId: 'nope' }, 'test', NOW)).rejects.toThrow(
      UpdraftError,
    );
    expect((await counts()).backfills).toBe(0);
  });
});
