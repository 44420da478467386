import { describe, expect, it } from 'vitest';
import { dag } from '../../src/index.js';
import { definitionError } from '../support/definition-error.js';

describe('t.branch and t.map definitions', () => {
  it('stores a branch as its own operator and a mapped task with what it maps over', () => {
    const d = dag({ id: 'shapes' }, (t) => {
      const list = t.task('list', async () => [1, 2]);
      const b = t.branch('pick', { retries: 2 }, () => null);
      const m = t.map('each', { over: list, maxLength: 10, retries: 1 }, (_ctx, n: number) => n + 1);
      t.map('lit', { over: ['a', 'b'] }, (_ctx, s: string) => s);
      b.then(list);
      void m;
    });
    const tasks = Object.fromEntries(d.serialize().tasks.map((t) => [t.id, t]));
    expect(tasks.pick).toMatchObject({ operator: 'branch', retries: 2 });
    expect(tasks.each).toMatchObject({ operator: 'map', retries: 1, config: { over: 'list', maxLength: 10 } });
    expect(tasks.lit).toMatchObject({ operator: 'map', config: { items: ['a', 'b'], maxLength: 1024 } });
    expect(d.edges()).toContainEqual(['list', 'each']);
  });

  it('names the DAG, the task and the field of a bad mapped task', () => {
    const missing = definitionError(() => dag({ id: 'bad_map' }, (t) => void t.map('m', {} as never, () => 1)));
    expect(missing.message).toMatch(/^DAG 'bad_map': task 'm' \(map\): over is required/);
    expect(missing.field).toBe('tasks.m.over');
    const long = definitionError(() =>
      dag({ id: 'bad_map' }, (t) => void t.map('m', { over: [1, 2, 3], maxLength: 2 }, () => 1)),
    );
    expect(long.message).toContain('over has 3 items, more than maxLength 2');
    const length = definitionError(() =>
      dag({ id: 'bad_map' }, (t) => void t.map('m', { over: [1], maxLength: 0 }, () => 1)),
    );
    expect(length.field).toBe('tasks.m.maxLength');
    const json = definitionError(() =>
      dag({ id: 'bad_map' }, (t) => void t.map('m', { over: [new Date(0)] }, () => 1)),
    );
    expect(json.message).toMatch(/over must be JSON: the list\[0\] is a Date/);
    const option = definitionError(() =>
      dag({ id: 'bad_map' }, (t) => void t.map('m', { over: [1], retries: -1 }, () => 1)),
    );
    expect(option.message).toMatch(/retries/);
    const fn = definitionError(() => dag({ id: 'bad_branch' }, (t) => void t.branch('b', {} as never)));
    expect(fn.message).toMatch(/task 'b' \(branch\): expected a function/);
  });
});
