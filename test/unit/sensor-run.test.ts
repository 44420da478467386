/** The sensor loop in a task thread, on a fake context: when it pokes, waits, reschedules and gives up. */
import { describe, expect, it } from 'vitest';
import type { TaskContext } from '../../src/dag/types.js';
import type { CompiledSensor } from '../../src/dag/operators/sensor.js';
import { RescheduleSensor, runSensor } from '../../src/operators/sensor/run.js';
import type { OperatorContext } from '../../src/operators/types.js';
import { runState } from '../../src/state/run-state.js';

function contextWith(abort = new AbortController()): { ctx: OperatorContext; logs: string[] } {
  const logs: string[] = [];
  const log = (message: string) => void logs.push(message);
  const task = {
    taskId: 's',
    signal: abort.signal,
    log: { debug: log, info: log, warn: log, error: log },
  } as unknown as TaskContext;
  const ctx = {
    task,
    connection: () => Promise.reject(new Error('no connections here')),
    state: { get: async () => null, set() {} },
    saveReport() {},
  } as OperatorContext;
  return { ctx, logs };
}

const sensor = (o: Partial<CompiledSensor>): CompiledSensor => ({
  intervalMs: 20,
  timeoutMs: 10_000,
  mode: 'poke',
  softFail: false,
  ...o,
});

describe('runSensor', () => {
  it('pokes until a truthy value, which is the XCom unless it is true', async () => {
    let n = 0;
    const { ctx, logs } = contextWith();
    expect(await runSensor('sensor', sensor({}), () => (++n >= 3 ? { n } : 0), ctx, null)).toEqual({ n: 3 });
    expect(logs).toEqual([
      'poke 1: not yet; next poke in 20ms',
      'poke 2: not yet; next poke in 20ms',
      'poke 3: condition met',
    ]);
    expect(await runSensor('sensor', sensor({}), () => true, contextWith().ctx, null)).toBeUndefined();
  });

  it('cuts the last wait at the timeout and pokes once more there, then fails (FailTask) or skips (softFail)', async () => {
    const { ctx, logs } = contextWith();
    const started = Date.now();
    await expect(
      runSensor('sensor', sensor({ intervalMs: 60, timeoutMs: 100 }), () => false, ctx, null),
    ).rejects.toMatchObject({ name: 'FailTask', message: 'sensor timed out after 100ms' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(logs).toEqual([
      'poke 1: not yet; next poke in 60ms',
      expect.stringMatching(/^poke 2: not yet; next poke in \d+ms$/),
    ]);
    await expect(
      runSensor(
        'sensor',
        sensor({ intervalMs: 20, timeoutMs: 20, softFail: true }),
        () => false,
        contextWith().ctx,
        null,
      ),
    ).rejects.toMatchObject({ name: 'SkipTask' });
  });

  it('an abort ends the wait at once with its reason', async () => {
    const abort = new AbortController();
    const started = Date.now();
    setTimeout(() => abort.abort(new Error('timed out after 50ms')), 50);
    await expect(
      runSensor(
        'sensor',
        sensor({ intervalMs: 60_000, timeoutMs: 600_000 }),
        () => false,
        contextWith(abort).ctx,
        null,
      ),
    ).rejects.toThrow('timed out after 50ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('in reschedule mode ends the try after a false poke, and counts the timeout from the first poke it is given', async () => {
    const first = (await runSensor(
      'sensor',
      sensor({ mode: 'reschedule', intervalMs: 1_000 }),
      () => false,
      contextWith().ctx,
      null,
    ).catch((e: unknown) => e)) as RescheduleSensor;
    expect(first).toBeInstanceOf(RescheduleSensor);
    expect(first.nextPokeAt.getTime() - first.firstPokeAt.getTime()).toBeGreaterThanOrEqual(1_000);
    // A later poke keeps the first poke's time...
    const firstPokeAt = new Date(Date.now() - 5_000);
    const later = (await runSensor(
      'sensor',
      sensor({ mode: 'reschedule', intervalMs: 1_000 }),
      () => false,
      contextWith().ctx,
      firstPokeAt,
    ).catch((e: unknown) => e)) as RescheduleSensor;
    expect(later.firstPokeAt).toEqual(firstPokeAt);
    // ...and past the timeout from it, the sensor fails.
    await expect(
      runSensor(
        'sensor',
        sensor({ mode: 'reschedule', intervalMs: 1_000, timeoutMs: 4_000 }),
        () => false,
        contextWith().ctx,
        firstPokeAt,
      ),
    ).rejects.toThrow('sensor timed out after 4s');
  });

  it('a run whose only unfinished task waits up_for_reschedule is still running, not deadlocked', () => {
    const deps = new Map([
      ['s', { upstream: [], triggerRule: 'all_success' as const }],
      ['after', { upstream: ['s'], triggerRule: 'all_success' as const }],
    ]);
    expect(
      runState(
        [
          { taskId: 's', state: 'up_for_reschedule' },
          { taskId: 'after', state: null },
        ],
        new Set(['after']),
        deps,
      ),
    ).toBe('running');
  });
});
