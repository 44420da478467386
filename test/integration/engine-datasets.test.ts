/**
 * Data-aware scheduling (docs/datasets.md): a task's success records an event per outlet,
 * and a DAG scheduled on datasets gets a dataset_triggered run once all (or any) of its
 * datasets were updated, which runs and sees the events that triggered it.
 */
import { asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { dagRuns, dags, datasetDagRunQueue, datasetEvents, datasets } from '../../src/db/schema.js';
import { setPaused } from '../../src/state/pause.js';
import { taskStates, useEngine, type TestEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';

export const prod_a = dag({ id: 'prod_a' }, (t) => {
  t.task('write_a', { outlets: ['test://a'] }, async () => 'a');
});
export const prod_b = dag({ id: 'prod_b' }, (t) => {
  t.sql('write_b', { conn: 'nowhere', sql: 'select 1', outlets: ['test://b'], retries: 0 });
});
export const prod_b_ok = dag({ id: 'prod_b_ok' }, (t) => {
  t.task('write_b', { outlets: ['test://b'] }, async () => 'b');
});
export const prod_fail = dag({ id: 'prod_fail' }, (t) => {
  t.task('write_c', { outlets: ['test://c'] }, async () => { throw new Error('no data today'); });
});

const seen = (t: any) => t.task('seen', async (ctx: any) => ({
  events: ctx.triggeringEvents.map((e: any) => e.uri + ' from ' + e.sourceDagId + '.' + e.sourceTaskId),
  start: ctx.interval.start.toISOString(),
  end: ctx.interval.end.toISOString(),
}));
export const on_all = dag({ id: 'on_all', schedule: { datasets: ['test://a', 'test://b'] } }, seen);
export const on_any = dag({ id: 'on_any', schedule: { datasets: ['test://a', 'test://c'], when: 'any' } }, seen);
export const on_c = dag({ id: 'on_c', schedule: { datasets: ['test://c'] } }, seen);
export const on_never = dag({ id: 'on_never', schedule: { datasets: ['test://never'] } }, seen);
export const prod_p = dag({ id: 'prod_p' }, (t) => {
  t.task('write_p', { outlets: ['test://p'] }, async () => 'p');
});
export const on_p = dag({ id: 'on_p', pausedAtCreation: true, schedule: { datasets: ['test://p'] } }, seen);
`;

// No safety-net poll within the tests' time: a consumer's run must come from the
// producer's NOTIFY (or an unpause's), not from a scheduler pass that happened to run.
const setup = useEngine({ 'datasets.ts': DAGS }, { env: { UPDRAFT_SCHEDULER_POLL_INTERVAL: '10m' } });

/** The next run of `dagId` to end, as the bus reports it; call before the action that causes it. */
function nextEnd(h: TestEngine, dagId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no run of ${dagId} ended within 20 s`)), 20_000);
    const listener = (e: { runRowId: string; dagId: string }) => {
      if (e.dagId !== dagId) return;
      clearTimeout(timer);
      h.engine.bus.off('run:finished', listener);
      resolve(e.runRowId);
    };
    h.engine.bus.on('run:finished', listener);
  });
}

describe('datasets', () => {
  it("runs an 'any' consumer on one update and an 'all' consumer only once every dataset was updated", async () => {
    const { h, database } = setup();
    const db = database.db;
    const anyEnded = nextEnd(h, 'on_any');
    expect((await h.run('prod_a')).state).toBe('success');
    const anyRun = await anyEnded;
    const [run] = await db.select().from(dagRuns).where(eq(dagRuns.id, anyRun));
    expect(run).toMatchObject({ runType: 'dataset_triggered', state: 'success' });
    expect(run!.runId).toMatch(/^dataset_triggered__/);
    const tasks = await taskStates(database, anyRun);
    expect(tasks.seen!.result).toMatchObject({ events: ['test://a from prod_a.write_a'] });
    // 'all' waits for test://b: the scheduler pass that made on_any's run left it alone.
    const [onAll] = await db.select({ id: dags.id }).from(dags).where(eq(dags.dagId, 'on_all'));
    expect(await db.select().from(dagRuns).where(eq(dagRuns.dagId, onAll!.id))).toHaveLength(0);
    expect(await db.select().from(datasetDagRunQueue).where(eq(datasetDagRunQueue.dagId, onAll!.id))).toHaveLength(1);

    // A failed producer emits nothing: test://b is still not updated.
    expect((await h.run('prod_b')).state).toBe('failed');
    expect(await db.select().from(dagRuns).where(eq(dagRuns.dagId, onAll!.id))).toHaveLength(0);

    const allEnded = nextEnd(h, 'on_all');
    expect((await h.run('prod_b_ok')).state).toBe('success');
    const allRun = await allEnded;
    const seenAll = (await taskStates(database, allRun)).seen!.result as {
      events: string[];
      start: string;
      end: string;
    };
    expect(seenAll.events).toEqual(['test://a from prod_a.write_a', 'test://b from prod_b_ok.write_b']);
    // The data interval spans the triggering events (Airflow's DatasetTriggeredTimetable).
    const events = await db
      .select({ uri: datasets.uri, at: datasetEvents.createdAt })
      .from(datasetEvents)
      .innerJoin(datasets, eq(datasets.id, datasetEvents.datasetId))
      .orderBy(asc(datasetEvents.id));
    expect(events.map((e) => e.uri)).toEqual(['test://a', 'test://b']);
    expect(seenAll.start).toBe(events[0]!.at.toISOString());
    expect(seenAll.end).toBe(events[1]!.at.toISOString());
    expect(await db.select().from(datasetDagRunQueue).where(eq(datasetDagRunQueue.dagId, onAll!.id))).toHaveLength(0);
    expect(h.errors).toEqual([]);
  });

  it("gives a manual run no triggering events, even when its conf carries the key a dataset run's uses", async () => {
    const { h } = setup();
    const fake = [
      {
        uri: 'test://a',
        at: new Date().toISOString(),
        sourceDagId: 'x',
        sourceRunId: 'y',
        sourceTaskId: 'z',
        sourceTryNumber: 1,
      },
    ];
    const run = await h.run('on_never', { conf: { triggeringDatasetEvents: fake } });
    expect(run.state).toBe('success');
    expect((run.tasks.seen!.result as { events: string[] }).events).toEqual([]);
  });

  it('records no dataset event for a failed task, so its consumers do not run', async () => {
    const { h, database } = setup();
    const db = database.db;
    expect((await h.run('prod_fail')).state).toBe('failed');
    const [c] = await db.select({ id: datasets.id }).from(datasets).where(eq(datasets.uri, 'test://c'));
    expect(await db.select().from(datasetEvents).where(eq(datasetEvents.datasetId, c!.id))).toHaveLength(0);
    const [onC] = await db.select({ id: dags.id }).from(dags).where(eq(dags.dagId, 'on_c'));
    // A scheduler pass after the failure leaves on_c without a run.
    await h.engine.scheduler!.tick(new Date());
    expect(await db.select().from(dagRuns).where(eq(dagRuns.dagId, onC!.id))).toHaveLength(0);
  });

  it('keeps the events of a paused consumer queued, and runs it on them once unpaused', async () => {
    const { h, database } = setup();
    const db = database.db;
    const [onP] = await db.select({ id: dags.id }).from(dags).where(eq(dags.dagId, 'on_p'));
    expect((await h.run('prod_p')).state).toBe('success');
    await h.engine.scheduler!.tick(new Date());
    expect(await db.select().from(dagRuns).where(eq(dagRuns.dagId, onP!.id))).toHaveLength(0);
    expect(await db.select().from(datasetDagRunQueue).where(eq(datasetDagRunQueue.dagId, onP!.id))).toHaveLength(1);
    const ended = nextEnd(h, 'on_p');
    expect(await setPaused(db, 'on_p', false, 'test')).toBe(true);
    const runRowId = await ended;
    expect((await taskStates(database, runRowId)).seen!.result).toMatchObject({
      events: ['test://p from prod_p.write_p'],
    });
    expect(await db.select().from(datasetDagRunQueue).where(eq(datasetDagRunQueue.dagId, onP!.id))).toHaveLength(0);
  });
});
