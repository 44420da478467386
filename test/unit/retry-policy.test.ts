import { describe, expect, it } from 'vitest';
import { storedEnd, type TryEnd } from '../../src/executor/retry-policy.js';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const TASK = { retryDelayMs: 60_000, retryBackoff: false, maxRetryDelayMs: 3_600_000 };

function end(overrides: Partial<TryEnd>): TryEnd {
  return {
    outcome: { status: 'success', result: 1 },
    tryNumber: 1,
    maxTries: 3,
    task: TASK,
    revoked: false,
    dagId: 'd',
    now: NOW,
    ...overrides,
  };
}

const failure = { status: 'failed', error: 'boom', stack: 'Error: boom\n  at x', retryable: true } as const;

describe('storedEnd', () => {
  it('stores a success with its result, branch and effects', () => {
    const stored = storedEnd(
      end({ outcome: { status: 'success', result: { a: 1 }, followed: ['b'], effects: { report: undefined } } }),
    );
    expect(stored).toEqual({
      state: 'success',
      result: { a: 1 },
      followed: ['b'],
      effects: { report: undefined, dagId: 'd' },
      logs: [],
    });
  });

  it('keeps a success without XCom, branch or effects free of those keys but the result', () => {
    const stored = storedEnd(end({ outcome: { status: 'success', result: undefined } }));
    expect(Object.keys(stored).sort()).toEqual(['logs', 'result', 'state']);
  });

  it('reschedules a sensor at its next poke, keeping its first poke', () => {
    const stored = storedEnd(end({ outcome: { status: 'reschedule', nextPokeAt: NOW + 5_000, firstPokeAt: NOW - 1 } }));
    expect(stored.state).toBe('up_for_reschedule');
    expect(stored.nextTryAt).toEqual(new Date(NOW + 5_000));
    expect(stored.sensorStartedAt).toEqual(new Date(NOW - 1));
    expect(stored.logs).toEqual([
      { level: 'info', message: 'not yet: rescheduled, next poke at 2026-01-01T00:00:05.000Z', at: NOW },
    ]);
  });

  it('stores a skip with its reason in the log', () => {
    expect(storedEnd(end({ outcome: { status: 'skipped', reason: 'not chosen' } }))).toEqual({
      state: 'skipped',
      logs: [{ level: 'info', message: 'skipped: not chosen', at: NOW }],
    });
  });

  it('retries a retryable failure with tries left after the retry delay', () => {
    const stored = storedEnd(end({ outcome: failure }));
    expect(stored).toEqual({
      state: 'up_for_retry',
      error: 'boom',
      nextTryAt: new Date(NOW + 60_000),
      logs: [
        { level: 'error', message: 'Error: boom\n  at x', at: NOW },
        { level: 'info', message: 'try 1 of 3 failed; retrying at 2026-01-01T00:01:00.000Z', at: NOW },
      ],
    });
  });

  it('doubles the delay with backoff, within the maximum', () => {
    const task = { retryDelayMs: 1_000, retryBackoff: true, maxRetryDelayMs: 3_000 };
    expect(storedEnd(end({ outcome: failure, task, tryNumber: 2 })).nextTryAt).toEqual(new Date(NOW + 2_000));
    expect(storedEnd(end({ outcome: failure, task, tryNumber: 3, maxTries: 5 })).nextTryAt).toEqual(
      new Date(NOW + 3_000),
    );
  });

  it('fails the last try, saying no tries are left', () => {
    const stored = storedEnd(end({ outcome: failure, tryNumber: 3 }));
    expect(stored.state).toBe('failed');
    expect(stored.nextTryAt).toBeUndefined();
    expect(stored.logs.map((l) => l.message)).toEqual(['Error: boom\n  at x', 'try 3 of 3 failed; no tries left']);
  });

  it('fails a task with a single try without the no-tries-left line', () => {
    const stored = storedEnd(end({ outcome: failure, maxTries: 1 }));
    expect(stored.state).toBe('failed');
    expect(stored.logs.map((l) => l.message)).toEqual(['Error: boom\n  at x']);
  });

  it('never retries a failure that is not retryable, a revoked try, or a task missing from its version', () => {
    for (const e of [
      end({ outcome: { ...failure, retryable: false } }),
      end({ outcome: failure, revoked: true }),
      end({ outcome: failure, task: undefined }),
    ]) {
      const stored = storedEnd(e);
      expect(stored.state).toBe('failed');
      expect(stored.logs).toHaveLength(1);
    }
  });

  it('logs the error itself when there is no stack, and stores text the database takes', () => {
    const stored = storedEnd(end({ outcome: { status: 'failed', error: 'a\0b', retryable: false } }));
    expect(stored.error).toBe('a\\0b');
    expect(stored.logs[0]!.message).toBe('a\\0b');
  });
});
