import { describe, expect, it } from 'vitest';
import { dag, type TaskHandle } from '../../src/index.js';
import { taskSettings } from '../../src/dag/serialize.js';
import { durationMs, formatDuration } from '../../src/util/duration.js';
import { definitionError } from '../support/definition-error.js';

const noop = async () => null;

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['250ms', 250],
    ['1h 30m', 5_400_000],
    [1500, 1500],
  ])('%s is %d ms', (text, ms) => expect(durationMs(text)).toBe(ms));

  it.each(['', '5', '5 minutes', '-1s', 'm5', '1x', '1h30'])('rejects %j', (text) =>
    expect(durationMs(text)).toBeUndefined(),
  );
  it('rejects negative and non-finite numbers', () => {
    expect(durationMs(-1)).toBeUndefined();
    expect(durationMs(Number.NaN)).toBeUndefined();
  });
  it('formats as users write them', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(30_000)).toBe('30s');
    expect(formatDuration(250)).toBe('250ms');
  });
});

describe('dag()', () => {
  it('builds the graph from task references and serializes tasks, edges and options', () => {
    const d = dag(
      {
        id: 'etl',
        schedule: '@daily',
        startDate: '2026-01-01',
        defaults: { retries: 2, retryDelay: '30s' },
        tags: ['x'],
      },
      (t) => {
        const a = t.task('a', noop);
        const b = t.task('b', { retries: 0, triggerRule: 'all_done', priority: 5 }, noop);
        const c = t.task('c', { timeout: '1h30m' }, noop);
        a.then([b, c]);
      },
    );
    expect(d.graph.order).toBe(3);
    expect(d.graph.size).toBe(2);
    const s = d.serialize();
    expect(s.edges).toEqual([
      ['a', 'b'],
      ['a', 'c'],
    ]);
    const byId = Object.fromEntries(s.tasks.map((t) => [t.id, taskSettings(s, t)]));
    expect(s.tasks[0]).toEqual({ id: 'a', operator: 'task' });
    expect(byId.a).toMatchObject({
      retries: 2,
      retryDelayMs: 30_000,
      triggerRule: 'all_success',
      pool: 'default_pool',
    });
    expect(byId.b).toMatchObject({ retries: 0, triggerRule: 'all_done', priority: 5 });
    expect(byId.c).toMatchObject({ timeoutMs: 5_400_000 });
    expect(s.startDate).toBe('2026-01-01T00:00:00.000Z');
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('chains with then(), after() and chain()', () => {
    const d = dag({ id: 'chain' }, (t) => {
      const [a, b, c, d2, e] = ['a', 'b', 'c', 'd', 'e'].map((id) => t.task(id, noop));
      a!.then(b!).then(c!);
      e!.after(c!, d2!);
      t.chain(a!, [d2!]);
    });
    expect(d.serialize().edges).toEqual([
      ['a', 'b'],
      ['b', 'c'],
      ['a', 'd'],
      ['c', 'e'],
      ['d', 'e'],
    ]);
  });

  it('types a pulled result after the producing task', () => {
    dag({ id: 'typed' }, (t) => {
      const producer = t.task('producer', async () => ({ rows: 3, table: 'orders' }));
      t.task('consumer', async (ctx) => {
        const r = await ctx.pull(producer);
        const rows: number = r.rows;
        // @ts-expect-error rows is a number, not a string
        const wrong: string = r.rows;
        return { rows, wrong };
      });
      const handle: TaskHandle<{ rows: number; table: string }> = producer;
      expect(handle.id).toBe('producer');
    });
  });

  it('types params from their declaration', () => {
    dag(
      { id: 'params', params: { limit: { type: 'integer', default: 10 }, region: { type: 'string', default: 'eu' } } },
      (t) => {
        t.task('use', async (ctx) => {
          const limit: number = ctx.params.limit;
          // @ts-expect-error region is a string
          const region: number = ctx.params.region;
          return { limit, region };
        });
      },
    );
  });

  it('rejects duplicate task ids, naming the task', () => {
    const e = definitionError(() =>
      dag({ id: 'dup' }, (t) => {
        t.task('load', noop);
        t.task('load', noop);
      }),
    );
    expect(e.message).toBe("DAG 'dup': duplicate task id 'load'");
    expect(e.field).toBe('tasks');
  });

  it('rejects a dependency cycle and shows it', () => {
    const e = definitionError(() =>
      dag({ id: 'cyc' }, (t) => {
        const a = t.task('a', noop);
        const b = t.task('b', noop);
        const c = t.task('c', noop);
        a.then(b).then(c).then(a);
      }),
    );
    expect(e.message).toMatch(/^DAG 'cyc': dependency cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)$/);
  });

  it('rejects a task that depends on itself', () => {
    const e = definitionError(() =>
      dag({ id: 'self' }, (t) => {
        const a = t.task('a', noop);
        a.then(a);
      }),
    );
    expect(e.message).toBe("DAG 'self': dependency cycle: a -> a");
  });

  it('rejects references to tasks of another DAG and non-references', () => {
    let foreign: TaskHandle | undefined;
    dag({ id: 'one' }, (t) => {
      foreign = t.task('x', noop);
    });
    const e = definitionError(() => dag({ id: 'two' }, (t) => void t.task('y', noop).then(foreign!)));
    expect(e.message).toBe("DAG 'two': task 'x' belongs to DAG 'one', not to this DAG");
    const u = definitionError(() =>
      dag({ id: 'two' }, (t) => void t.task('y', noop).then(undefined as unknown as TaskHandle)),
    );
    expect(u.message).toBe("DAG 'two': then(): expected a task reference, got undefined");
  });

  it('rejects tasks added after the build function returned', () => {
    let late: (() => void) | undefined;
    dag({ id: 'late' }, (t) => {
      t.task('first', noop);
      late = () => t.task('later', noop);
    });
    expect(() => late!()).toThrow(/only be added inside the build function/);
  });

  it.each([
    [{ id: 'bad id!' }, "DAG 'bad id!': id: use 1 to 250 letters"],
    [{ id: 'x', schedule: '61 * * * *', startDate: '2026-01-01' }, "DAG 'x': schedule: "],
    [{ id: 'x', schedule: '@fortnightly', startDate: '2026-01-01' }, "DAG 'x': schedule: "],
    [{ id: 'x', timezone: 'Mars/Olympus' }, "DAG 'x': timezone: "],
    [{ id: 'x', schedule: '@daily' }, "DAG 'x': startDate: required when the DAG has a schedule"],
    [
      { id: 'x', startDate: '2026-02-01', endDate: '2026-01-01' },
      "DAG 'x': endDate: 2026-01-01T00:00:00.000Z is before startDate",
    ],
    [{ id: 'x', startDate: 'yesterday' }, "DAG 'x': startDate: "],
    [{ id: 'x', defaults: { retryDelay: '5 minutes' } }, `DAG 'x': defaults.retryDelay: invalid duration "5 minutes"`],
    [{ id: 'x', defaults: { triggerRule: 'all_succes' } }, "DAG 'x': defaults.triggerRule: "],
    [{ id: 'x', maxActiveRuns: 0 }, "DAG 'x': maxActiveRuns: "],
    [{ id: 'x', schedual: '@daily' }, "DAG 'x': unknown option 'schedual'"],
    [
      { id: 'x', params: { n: { type: 'integer', default: 'ten' } } },
      `DAG 'x': params: n: default "ten" is not of type integer`,
    ],
    [{ id: 'x', params: { n: { type: 'decimal' } } }, "DAG 'x': params: n: type must be one of"],
  ])('rejects bad options %j', (options, message) => {
    const e = definitionError(() => dag(options as never, () => {}));
    expect(e.message.startsWith(message)).toBe(true);
  });

  it('rejects bad task options, naming the task and the field', () => {
    const e = definitionError(() => dag({ id: 'x' }, (t) => void t.task('load', { timeout: 'soon' } as never, noop)));
    expect(e.message).toBe(
      `DAG 'x': task 'load': timeout: invalid duration "soon" (use e.g. '30s', '5m', '1h30m', '2d' or a number of milliseconds)`,
    );
    const rule = definitionError(() =>
      dag({ id: 'x' }, (t) => void t.task('load', { triggerRule: 'any' } as never, noop)),
    );
    expect(rule.message).toMatch(/^DAG 'x': task 'load': triggerRule: /);
  });

  it('rejects a DAG without tasks', () => {
    expect(definitionError(() => dag({ id: 'empty' }, () => {})).message).toBe(
      "DAG 'empty': has no tasks (add one with t.task(...))",
    );
  });

  it('wraps other errors of the build function', () => {
    const e = definitionError(() =>
      dag({ id: 'boom' }, () => {
        throw new TypeError('nope');
      }),
    );
    expect(e.message).toBe("DAG 'boom': the build function threw: nope");
  });
});
