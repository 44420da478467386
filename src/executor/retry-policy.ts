/**
 * What a try's end stores: from the outcome its thread reported to the task instance's
 * final state for that try, its next try or poke, and the lines its log gains. A pure
 * function of its input (no clock, no database), so that every way a try can end is
 * decided in one place and can be tested on its own (test/unit/retry-policy.test.ts).
 */
import type { TaskSettings } from '../dag/options.js';
import type { FinalState, LogLine, TaskResult } from '../state/complete-tries.js';
import { hasTriesLeft, retryDelayMs } from '../state/retry.js';
import { toStorableText } from '../util/json-result.js';
import type { TaskOutcome } from './protocol.js';

/** How a try ended, with what the decision depends on. */
export interface TryEnd {
  outcome: TaskOutcome;
  tryNumber: number;
  /** Every try the task instance may have, the first included. */
  maxTries: number;
  /** The task's retry settings in the run's version; undefined when the task is not in it. */
  task: Pick<TaskSettings, 'retryDelayMs' | 'retryBackoff' | 'maxRetryDelayMs'> | undefined;
  /** The try was stopped from outside (the run was cancelled or marked): never retried. */
  revoked: boolean;
  /** The run's DAG, recorded with a success's effects. */
  dagId: string;
  /** When the try ended (epoch ms): the base of its next try and the time of its log lines. */
  now: number;
}

/** What the executor stores for a try's end (the rest of its TaskResult is the claim's). */
export type StoredEnd = Pick<
  TaskResult,
  'state' | 'result' | 'followed' | 'effects' | 'error' | 'nextTryAt' | 'sensorStartedAt'
> & {
  state: FinalState;
  /** Lines to add to the end of the try's log. */
  logs: LogLine[];
};

/**
 * The stored result of a try's end. A failure is retried only while the outcome is
 * retryable, the task is known and tries are left, and never when the try was revoked: its
 * task instance is no longer the try's. A reschedule keeps the sensor's first poke, so its
 * timeout counts from there; it uses up no try (claim-tasks.ts).
 */
export function storedEnd(end: TryEnd): StoredEnd {
  const { outcome, now } = end;
  switch (outcome.status) {
    case 'success':
      return {
        state: 'success',
        result: outcome.result,
        ...(outcome.followed ? { followed: outcome.followed } : {}),
        ...(outcome.effects ? { effects: { ...outcome.effects, dagId: end.dagId } } : {}),
        logs: [],
      };
    case 'reschedule': {
      const nextTryAt = new Date(outcome.nextPokeAt);
      return {
        state: 'up_for_reschedule',
        nextTryAt,
        sensorStartedAt: new Date(outcome.firstPokeAt),
        logs: [{ level: 'info', message: `not yet: rescheduled, next poke at ${nextTryAt.toISOString()}`, at: now }],
      };
    }
    case 'skipped':
      return { state: 'skipped', logs: [{ level: 'info', message: `skipped: ${outcome.reason}`, at: now }] };
    case 'failed':
      return failedEnd(end, outcome);
  }
}

function failedEnd(end: TryEnd, outcome: Extract<TaskOutcome, { status: 'failed' }>): StoredEnd {
  const { task, tryNumber, maxTries, now } = end;
  const retryable = !end.revoked && outcome.retryable && task !== undefined;
  const logs: LogLine[] = [{ level: 'error', message: toStorableText(outcome.stack ?? outcome.error), at: now }];
  const error = toStorableText(outcome.error);
  if (retryable && hasTriesLeft(tryNumber, maxTries)) {
    const nextTryAt = new Date(now + retryDelayMs(task, tryNumber));
    logs.push({
      level: 'info',
      message: `try ${tryNumber} of ${maxTries} failed; retrying at ${nextTryAt.toISOString()}`,
      at: now,
    });
    return { state: 'up_for_retry', error, nextTryAt, logs };
  }
  if (retryable && maxTries > 1)
    logs.push({ level: 'info', message: `try ${tryNumber} of ${maxTries} failed; no tries left`, at: now });
  return { state: 'failed', error, logs };
}
