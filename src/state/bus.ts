import { EventEmitter } from 'node:events';
import type { FinishedRun } from './finish-run.js';
import type { TaskState } from './vocabulary.js';

/**
 * Lifecycle events inside one process. The scheduler and the executor wake each
 * other through them; logging and live displays subscribe instead of being wired
 * into the core. Between processes the same wake-ups travel as NOTIFY.
 */
export interface EngineEvents {
  /** Task instances became ready to claim. */
  work: [];
  /** Runs were queued, triggered or finished: the scheduler has something to look at. */
  runs: [];
  /** With 'running': `scheduledAt`, when the task instance became ready (for the scheduling delay). */
  'task:state': [
    { runRowId: string; taskId: string; state: TaskState; tryNumber?: number; error?: string; scheduledAt?: Date },
  ];
  'run:finished': [FinishedRun];
  /** Every date of a backfill is done. */
  'backfill:completed': [{ id: number }];
  /** A result came back from a try that no longer owned its task instance. */
  'task:refused': [{ runRowId: string; taskId: string; tryNumber: number }];
  /** Callbacks were queued in callback_requests (by the reaper): an executor takes them. */
  callbacks: [];
  /** A line a DAG's run callback logged (docs/callbacks.md): it has no task log, so it goes to the process log. */
  'callback:log': [{ dagId: string; runId: string; level: 'debug' | 'info' | 'warn' | 'error'; message: string }];
  /** A task's or a run's callback ended (docs/callbacks.md); `error` when it failed. Its log is stored by then. */
  'callback:ended': [
    {
      dagId: string;
      runRowId: string;
      taskId?: string;
      tryNumber?: number;
      callback: 'onSuccess' | 'onFailure' | 'onRetry';
      error?: string;
    },
  ];
  error: [Error];
  /** Something went wrong that the engine handles itself (a worker cut off stops its tries): one warning line, no stack. */
  warning: [string];
}

export type EngineBus = EventEmitter<EngineEvents>;

export function createBus(): EngineBus {
  const bus = new EventEmitter<EngineEvents>();
  bus.setMaxListeners(50);
  return bus;
}
