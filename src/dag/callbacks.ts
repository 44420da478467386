/**
 * Callbacks (Airflow's on_success_callback, on_failure_callback, on_retry_callback):
 * functions a DAG file gives for a task's or a run's end. They stay in the module, as a
 * task's function does; the stored DAG records only which ones exist, so the executor
 * knows when a callback is worth a trip to a task thread and DAGs without any pay nothing.
 */
import { z } from 'zod';
import type { DataInterval, TaskContext, TaskLogger } from './types.js';

/** The end of a try that a task callback is told about. */
export interface TaskCallbackInfo {
  /** The try's final state: 'success' (onSuccess), 'up_for_retry' (onRetry) or 'failed' (onFailure). */
  state: 'success' | 'up_for_retry' | 'failed';
  /** The try's error message (onRetry, onFailure). */
  error?: string;
  /** The try that ended (1 for the first). */
  tryNumber: number;
  maxTries: number;
  /** onRetry: when the next try may start. */
  nextTryAt?: Date;
}

/** Runs in a task thread after the try's state is committed; what it throws is logged, never changes the state. */
// biome-ignore lint/suspicious/noExplicitAny: a callback is written for its own DAG's params, unknown here; any keeps ctx.params usable in it
export type TaskCallback = (ctx: TaskContext<any>, info: TaskCallbackInfo) => void | Promise<void>;

/** Task options; also allowed in a DAG's `defaults` (a task's own callback wins). */
export interface TaskCallbacks {
  /** After a try succeeded. */
  onSuccess?: TaskCallback;
  /** After the last try failed (no tries left, a timeout without retries, FailTask); not after a cancel or a mark. */
  onFailure?: TaskCallback;
  /** After a failed try that will be retried. */
  onRetry?: TaskCallback;
}

/** A run's view given to its DAG's callbacks. */
export interface RunCallbackContext {
  dagId: string;
  runId: string;
  logicalDate: Date;
  interval: DataInterval;
  conf: Record<string, unknown>;
  /** Goes to the process log (there is no task log for a run), prefixed with the DAG and run. */
  log: TaskLogger;
  /** Aborted when the callback runs out of time. */
  signal: AbortSignal;
}

export interface RunCallbackInfo {
  state: 'success' | 'failed';
  /** Task ids that ended failed or upstream_failed (empty on success). */
  failedTasks: string[];
}

export type RunCallback = (ctx: RunCallbackContext, info: RunCallbackInfo) => void | Promise<void>;

/** DAG options for the run's end. */
export interface RunCallbacks {
  /** After the run ended success. */
  onSuccess?: RunCallback;
  /** After the run ended failed. */
  onFailure?: RunCallback;
}

/** Which callback a stored task or DAG has: 'success', 'failure', 'retry'. */
export type CallbackEvent = 'success' | 'failure' | 'retry';

export const CALLBACK_OPTION: Record<CallbackEvent, keyof TaskCallbacks> = {
  success: 'onSuccess',
  failure: 'onFailure',
  retry: 'onRetry',
};

/** A callback bounded by the task's timeout, or by this when the task has none. */
export const CALLBACK_TIMEOUT_MS = 60_000;

/** Schema of one callback option: a function (checked by zod with the other options, so errors name the field). */
export const callbackField = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', {
  message: 'must be a function',
});

/** The task's callbacks: its own over the DAG's defaults. */
export function mergeCallbacks(defaults: TaskCallbacks, own: TaskCallbacks): TaskCallbacks {
  const merged: TaskCallbacks = {};
  for (const key of Object.values(CALLBACK_OPTION)) {
    const fn = own[key] ?? defaults[key];
    if (fn) merged[key] = fn;
  }
  return merged;
}

/** The events that have a callback, for the stored form; undefined when none (nothing stored). */
export function callbackEvents(callbacks: TaskCallbacks | RunCallbacks): CallbackEvent[] | undefined {
  const events = (Object.keys(CALLBACK_OPTION) as CallbackEvent[]).filter(
    (event) => typeof (callbacks as TaskCallbacks)[CALLBACK_OPTION[event]] === 'function',
  );
  return events.length > 0 ? events : undefined;
}

/** The callback event of a try's final state, if that state has one ('skipped' has none). */
export function eventOfState(state: string): CallbackEvent | undefined {
  return state === 'success'
    ? 'success'
    : state === 'failed'
      ? 'failure'
      : state === 'up_for_retry'
        ? 'retry'
        : undefined;
}
