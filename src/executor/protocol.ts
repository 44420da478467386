/**
 * What the main thread and a task thread say to each other about one task try.
 * The payload and the outcome travel through piscina; everything else (logs, pulls,
 * abort) through a MessageChannel made for the try, whose port is in the payload.
 */
import type { MessagePort } from 'node:worker_threads';
import type { CallbackEvent, RunCallbackInfo } from '../dag/callbacks.js';
import type { Effects } from '../operators/types.js';

export type { Effects };

export interface TaskPayload {
  /** Absolute path of the DAG file. */
  file: string;
  /** Content hash: the file is imported as `<url>?v=<fileVersion>`, so a new version is re-imported and the same version reuses the thread's cached module. */
  fileVersion: string;
  dagId: string;
  taskId: string;
  runId: string;
  taskInstanceId: string;
  /** ISO dates. */
  logicalDate: string;
  intervalStart: string;
  intervalEnd: string;
  /** 1 for the first try. */
  tryNumber: number;
  maxTries: number;
  /** Resolved params (conf over defaults). */
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  /** The run's type; only a dataset_triggered run's tasks see triggering events in `ctx`. */
  runType?: string;
  /**
   * XCom values of upstream tasks of this run, by task id. A key whose value is
   * undefined means "that task returned nothing" and is answered in the thread; a
   * missing key makes `ctx.pull` ask the main thread (an 'ask' message).
   */
  upstreamResults: Record<string, unknown>;
  /** A reschedule-mode sensor's first poke of this try (ISO), from an earlier reschedule; absent on its first poke. */
  sensorStartedAt?: string;
  /** A mapped task's instance (t.map): its index and its item; -1 and undefined otherwise. */
  mapIndex?: number;
  mapItem?: unknown;
  /** The thread's end of the try's channel; transferred. */
  port: MessagePort;
  /** Set: run this callback of the task (or, kind 'run', of the DAG) instead of the task (run-callback.ts). */
  callback?: CallbackCall;
}

/** A callback to run in a task thread, with what it is told (dates as ISO strings). */
export type CallbackCall =
  | {
      kind: 'task';
      event: CallbackEvent;
      info: {
        state: 'success' | 'up_for_retry' | 'failed';
        error?: string;
        tryNumber: number;
        maxTries: number;
        nextTryAt?: string;
      };
    }
  | { kind: 'run'; event: 'success' | 'failure'; info: RunCallbackInfo };

/** The pool's `workerData` for each task thread. */
export interface TaskThreadData {
  /** BroadcastChannel name: 'close' asks the thread to end its connection pools; it answers { closed: threadId }. */
  control: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Thread -> main, in the order they were posted; 'done' is always last. */
export type WorkerMessage =
  /** The thread has taken the try (its timeout counts from here, the import included). */
  | { type: 'started' }
  | { type: 'log'; level: LogLevel; message: string; at: number }
  /** A question only the main thread can answer (it has the database); answered by 'answer'. */
  | { type: 'ask'; id: number; question: Question; threadId: number }
  /** Posted just before the outcome is returned: every log of the try is before it. */
  | { type: 'done' };

/** Main -> thread. */
export type MainMessage =
  | { type: 'answer'; id: number; value?: unknown; error?: string }
  /** Aborts `ctx.signal` with `reason`. */
  | { type: 'abort'; reason: string };

/** What a task thread may ask the main thread during a try. */
export type Question =
  /** The XCom of a task of this run. */
  | { kind: 'pull'; taskId: string }
  /** The URL of a named connection (environment or stored, decrypted). */
  | { kind: 'connection'; name: string }
  /** An operator's kept value for this DAG and task. */
  | { kind: 'state'; key: string };

/** What a successful try leaves besides its XCom, committed in the same transaction. */
export type TaskOutcome =
  /** `result` is JSON-safe, or undefined: no XCom. */
  /** `followed`: a branch's chosen direct downstream tasks; the others are skipped. */
  | { status: 'success'; result: unknown; effects?: Effects; followed?: string[] }
  | { status: 'skipped'; reason: string }
  /** A reschedule-mode sensor not met yet: poke again at `nextPokeAt`; its timeout counts from `firstPokeAt` (epoch ms). */
  | { status: 'reschedule'; nextPokeAt: number; firstPokeAt: number }
  | { status: 'failed'; error: string; stack?: string; retryable: boolean };
