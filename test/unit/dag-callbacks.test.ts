import { describe, expect, it } from 'vitest';
import { dag, type TaskCallback } from '../../src/index.js';
import { versionHash } from '../../src/dag/serialize.js';
import { definitionError } from '../support/definition-error.js';

const noop = async () => null;
const cb: TaskCallback = () => {};

describe('callback options', () => {
  it('rejects a callback that is not a function, naming the DAG, the task and the field', () => {
    const task = definitionError(() =>
      dag({ id: 'd' }, (t) => void t.task('load', { onRetry: 'alert' as never }, noop)),
    );
    expect(task.message).toBe("DAG 'd': task 'load': onRetry: must be a function");
    expect(task.field).toBe('onRetry');

    const defaults = definitionError(() =>
      dag({ id: 'd', defaults: { onFailure: 42 as never } }, (t) => void t.task('a', noop)),
    );
    expect(defaults.message).toBe("DAG 'd': defaults.onFailure: must be a function");
    expect(defaults.field).toBe('defaults.onFailure');

    const run = definitionError(() => dag({ id: 'd', onSuccess: {} as never }, (t) => void t.task('a', noop)));
    expect(run.message).toBe("DAG 'd': onSuccess: must be a function");

    // Operators take them in their one config object, checked the same way.
    const op = definitionError(() =>
      dag({ id: 'd' }, (t) => void t.sql('q', { conn: 'wh', sql: 'select 1', onSuccess: true as never })),
    );
    expect(op.message).toBe("DAG 'd': task 'q': onSuccess: must be a function");
  });

  it("keeps the functions in the module and stores only which callbacks exist; a task's own wins over the defaults", () => {
    const own: TaskCallback = () => {};
    const d = dag({ id: 'd', defaults: { onFailure: cb, onSuccess: cb }, onFailure: () => {} }, (t) => {
      t.task('a', noop);
      t.task('b', { onSuccess: own, onRetry: cb }, noop);
      t.sql('q', { conn: 'wh', sql: 'select 1', onRetry: cb });
    });
    expect(d.tasks.get('a')!.callbacks).toEqual({ onSuccess: cb, onFailure: cb });
    expect(d.tasks.get('b')!.callbacks.onSuccess).toBe(own);
    const stored = d.serialize();
    expect(stored.runCallbacks).toEqual(['failure']);
    expect(stored.tasks.map((t) => [t.id, t.callbacks])).toEqual([
      ['a', ['success', 'failure']],
      ['b', ['success', 'failure', 'retry']],
      ['q', ['success', 'failure', 'retry']],
    ]);
    // Plain data: no function reaches the stored form (nor the sql operator's config).
    expect(JSON.stringify(stored)).not.toMatch(/=>|function/);
    expect(stored.tasks[2]!.config).toEqual({ conn: 'wh', sql: 'select 1' });
  });

  it('leaves the stored form and version hash of a DAG without callbacks as they were', () => {
    const plain = dag({ id: 'd', defaults: { retries: 1 } }, (t) => void t.task('a', noop));
    const stored = plain.serialize();
    expect('runCallbacks' in stored).toBe(false);
    expect('callbacks' in stored.tasks[0]!).toBe(false);
    expect(Object.keys(stored)).toEqual([
      'format',
      'dagId',
      'schedule',
      'timezone',
      'startDate',
      'endDate',
      'catchup',
      'maxActiveRuns',
      'maxActiveTasks',
      'tags',
      'description',
      'owner',
      'pausedAtCreation',
      'params',
      'taskDefaults',
      'tasks',
      'edges',
    ]);
    // Callbacks change the stored form: a file that adds one makes a new version.
    const withCb = dag({ id: 'd', defaults: { retries: 1 } }, (t) => void t.task('a', { onSuccess: cb }, noop));
    expect(versionHash(withCb.serialize(), 'src')).not.toBe(versionHash(stored, 'src'));
  });
});
