/**
 * Dynamic task mapping (t.map) with Airflow's meanings: one task instance per item of an
 * upstream's list (or a literal list), expanded when the mapped task may run; pulling it
 * gathers the instances' results in map-index order; an empty list skips it, a list too
 * long or not a list fails it, and trigger rules count every instance.
 */
import { and, asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { clearTaskInstances } from '../../src/state/clear.js';
import type { Database } from '../../src/db/client.js';
import { taskInstances, xcom } from '../../src/db/schema.js';
import { nextEnd, useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';

const build = (id: string, list: () => unknown, maxLength?: number) => dag({ id }, (t) => {
  const produce = t.task('produce', async () => list() as number[]);
  const double = t.map('double', { over: produce, retries: 0, ...(maxLength ? { maxLength } : {}) }, async (ctx, n: number) => {
    if (n === 13) throw new Error('unlucky ' + ctx.mapIndex);
    ctx.log.info('doubling %d at %d', n, ctx.mapIndex);
    return n * 2;
  });
  const sum = t.task('sum', async (ctx) => (await ctx.pull(double)).reduce((a, b) => a + b, 0));
  // Not directly downstream of double: its pull goes through the main thread.
  const report = t.task('report', async (ctx) => ({ doubled: await ctx.pull(double), sum: await ctx.pull(sum) }));
  double.then(sum).then(report);
});

export const map_sum = build('map_sum', () => [1, 2, 3]);
export const map_empty = build('map_empty', () => []);
export const map_long = build('map_long', () => [1, 2, 3, 4, 5], 3);
export const map_fail = build('map_fail', () => [1, 13, 3]);
export const map_text = build('map_text', () => 'oops');

export const map_literal = dag({ id: 'map_literal' }, (t) => {
  const tag = t.map('tag', { over: ['x', 'y'] }, (ctx, item) => ctx.mapIndex + ':' + item);
  // Mapping over a mapped task: one instance per instance of it, each with its result.
  const upper = t.map('upper', { over: tag }, (ctx, item: string) => item.toUpperCase());
  t.task('collect', async (ctx) => (await ctx.pull(tag)).join(',') + ' ' + (await ctx.pull(upper)).join(',')).after(upper);
});
`;

const setup = useEngine({ 'mapped.ts': DAGS });

/** The run's instances of a task in map-index order, with their results. */
async function instances(database: Database, runRowId: string, taskId: string) {
  return database.db
    .select({
      mapIndex: taskInstances.mapIndex,
      state: taskInstances.state,
      error: taskInstances.error,
      result: xcom.value,
    })
    .from(taskInstances)
    .leftJoin(xcom, eq(xcom.taskInstanceId, taskInstances.id))
    .where(and(eq(taskInstances.runId, runRowId), eq(taskInstances.taskId, taskId)))
    .orderBy(asc(taskInstances.mapIndex));
}

describe('dynamic task mapping', () => {
  it('runs one instance per item, each with its item, and hands the results in order to the reducer', async () => {
    const { h, database } = setup();
    const run = await h.run('map_sum');
    expect(run.state).toBe('success');
    expect(await instances(database, run.id, 'double')).toEqual([
      { mapIndex: 0, state: 'success', error: null, result: 2 },
      { mapIndex: 1, state: 'success', error: null, result: 4 },
      { mapIndex: 2, state: 'success', error: null, result: 6 },
    ]);
    expect(run.tasks.sum).toMatchObject({ state: 'success', result: 12 });
    expect(run.tasks.report!.result).toEqual({ doubled: [2, 4, 6], sum: 12 });
    expect(h.errors).toEqual([]);
  });

  it('maps over a literal list; ctx.mapIndex is the instance index', async () => {
    const { h, database } = setup();
    const run = await h.run('map_literal');
    expect(run.state).toBe('success');
    expect((await instances(database, run.id, 'tag')).map((i) => i.result)).toEqual(['0:x', '1:y']);
    expect((await instances(database, run.id, 'upper')).map((i) => i.result)).toEqual(['0:X', '1:Y']);
    expect(run.tasks.collect!.result).toBe('0:x,1:y 0:X,1:Y');
  });

  it('skips the mapped task and its downstream on an empty list', async () => {
    const { h, database } = setup();
    const run = await h.run('map_empty');
    expect(run.state).toBe('success');
    expect(await instances(database, run.id, 'double')).toEqual([
      { mapIndex: -1, state: 'skipped', error: null, result: null },
    ]);
    expect(run.tasks.sum!.state).toBe('skipped');
  });

  it('fails the mapped task, naming the limit, when the list is longer than maxLength', async () => {
    const { h, database } = setup();
    const run = await h.run('map_long');
    expect(run.state).toBe('failed');
    const [only] = await instances(database, run.id, 'double');
    expect(only).toMatchObject({
      mapIndex: -1,
      state: 'failed',
      error: "mapped task 'double' cannot expand: its upstream 'produce' returned 5 items, more than maxLength 3",
    });
    expect(run.tasks.sum!.state).toBe('upstream_failed');
    expect(run.tasks.report!.state).toBe('upstream_failed');
  });

  it('fails the mapped task when the upstream did not return a list', async () => {
    const { h, database } = setup();
    const run = await h.run('map_text');
    expect(run.state).toBe('failed');
    expect((await instances(database, run.id, 'double'))[0]!.error).toBe(
      "mapped task 'double' cannot expand: its upstream 'produce' returned a string, not an array",
    );
  });

  it('fails the run when one instance fails, the others succeeding; downstream counts every instance', async () => {
    const { h, database } = setup();
    const run = await h.run('map_fail');
    expect(run.state).toBe('failed');
    expect((await instances(database, run.id, 'double')).map((i) => `${i.mapIndex} ${i.state}`)).toEqual([
      '0 success',
      '1 failed',
      '2 success',
    ]);
    expect((await instances(database, run.id, 'double'))[1]!.error).toMatch(/unlucky 1/);
    expect(run.tasks.sum!.state).toBe('upstream_failed');
  });

  it('expands again when the mapped task is cleared', async () => {
    const { h, database } = setup();
    const first = await h.run('map_sum');
    const ended = nextEnd(h, first.id);
    await clearTaskInstances(database.db, 'map_sum', {
      runId: first.runId,
      taskIds: ['double'],
      downstream: true,
      actor: 'test',
    });
    expect(await ended).toBe('success');
    const again = await instances(database, first.id, 'double');
    expect(again.map((i) => `${i.mapIndex} ${i.state} ${String(i.result)}`)).toEqual([
      '0 success 2',
      '1 success 4',
      '2 success 6',
    ]);
    const [sum] = await instances(database, first.id, 'sum');
    expect(sum).toMatchObject({ state: 'success', result: 12 });
  });
});
