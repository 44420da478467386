import type { Duration } from '../util/duration.js';
import type { DatasetEventInfo, DatasetScheduleOption } from './datasets.js';
import type { RunCallbacks, TaskCallbacks } from './callbacks.js';
import type { EventsOptions } from './events.js';

/** Airflow's trigger rules, with Airflow's meanings (see docs/authoring.md). */
export const TRIGGER_RULES = [
  'all_success',
  'all_failed',
  'all_done',
  'all_skipped',
  'one_success',
  'one_failed',
  'one_done',
  'none_failed',
  'none_failed_min_one_success',
  'none_skipped',
  'always',
] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

export const PARAM_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

/** The TypeScript type of a param of the given declared type. */
export type ParamValue<T extends ParamType> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'array'
        ? unknown[]
        : Record<string, unknown>;

/** One DAG param: its type, and a default used when a run's conf does not set it. */
export interface ParamSpec<T extends ParamType = ParamType> {
  type: T;
  /** Used when the run's conf leaves the param out. Without a default the param is required. */
  default?: ParamValue<T>;
  description?: string;
  /** The only values allowed (string, number and integer params). */
  enum?: readonly ParamValue<T>[];
}
export type ParamsSpec = Record<string, ParamSpec>;
export type ParamsOf<P extends ParamsSpec> = { [K in keyof P]: ParamValue<P[K]['type']> };

/** Retry and timeout settings; a DAG's `defaults` and every task accept them. */
export interface RetryOptions {
  /** Retries after the first try fails. Default 0. */
  retries?: number;
  /** Wait before a retry. Default '5m'. */
  retryDelay?: Duration;
  /** Double the wait after each failed try (exponential backoff). Default false. */
  retryBackoff?: boolean;
  /** Upper bound of the wait with backoff. Default '24h'. */
  maxRetryDelay?: Duration;
  /** A try running longer than this is aborted and fails. Default: none. */
  timeout?: Duration;
}

/** Settings of one task; callbacks: see docs/callbacks.md. */
export interface TaskOptions extends RetryOptions, TaskCallbacks {
  /** When the task may run, given its upstream tasks' states. Default 'all_success'. */
  triggerRule?: TriggerRule;
  /** Higher runs first when slots are scarce. Default 1. */
  priority?: number;
  /** Pool whose slots the task takes. Default 'default_pool'. */
  pool?: string;
  /** Queue served by the workers that may run the task. Default 'default'. */
  queue?: string;
  description?: string;
  /** Dataset URIs this task updates: each success records a dataset event (docs/datasets.md). Not allowed in `defaults`. */
  outlets?: string[];
}

/** Defaults applied to every task of a DAG; a task's own options win. */
export type TaskDefaults = RetryOptions &
  TaskCallbacks &
  Pick<TaskOptions, 'pool' | 'queue' | 'priority' | 'triggerRule'>;

/** `onSuccess` / `onFailure`: the run's callbacks (docs/callbacks.md). */
export interface DagOptions<P extends ParamsSpec = ParamsSpec> extends RunCallbacks {
  /** Unique across all DAG files: letters, digits, '_', '-' and '.'. */
  id: string;
  /**
   * A cron expression, a preset ('@hourly', '@daily' or '@midnight', '@weekly', '@monthly', '@yearly', '@once'),
   * datasets (`{ datasets: [...], when: 'all' | 'any' }`, docs/datasets.md) or null for manual runs only. Default null.
   */
  schedule?: string | DatasetScheduleOption | null;
  /** IANA timezone the schedule and naive dates are read in. Default 'UTC'. */
  timezone?: string;
  /** First data interval starts at or after this date. Required with a schedule. */
  startDate?: string | Date;
  /** No run starts an interval after this date. */
  endDate?: string | Date;
  /** Create a run for every missed interval since startDate (true) or only the latest (false). Default false. */
  catchup?: boolean;
  /** Runs of this DAG active at once. Default 16. */
  maxActiveRuns?: number;
  /** Task instances of this DAG running at once, across its runs. Default 16. */
  maxActiveTasks?: number;
  defaults?: TaskDefaults;
  tags?: string[];
  description?: string;
  owner?: string;
  /** Whether the DAG starts paused when it first appears (Airflow's is_paused_upon_creation). Default: UPDRAFT_DAGS_PAUSED_AT_CREATION (true). */
  pausedAtCreation?: boolean;
  /** Typed params; a run's conf overrides their defaults and is checked against them. */
  params?: P;
  /** Start runs on a PostgreSQL NOTIFY or on new rows in a table (docs/event-triggers.md). Usually with `schedule: null`. */
  events?: EventsOptions;
}

/** Where a run's data interval starts and ends. */
export interface DataInterval {
  start: Date;
  end: Date;
}

/** A task's view of its run, given to its function. */
export interface TaskContext<P extends ParamsSpec = ParamsSpec> {
  dagId: string;
  taskId: string;
  runId: string;
  logicalDate: Date;
  interval: DataInterval;
  /** 1 for the first try. */
  tryNumber: number;
  /** The instance's index in a mapped task (t.map); -1 when the task is not mapped. */
  mapIndex: number;
  maxTries: number;
  /** The DAG's params, resolved from the run's conf and the defaults. */
  params: ParamsOf<P>;
  /** The run's conf as given when it was triggered. */
  conf: Record<string, unknown>;
  /** The dataset events a dataset-triggered run was created for, oldest first; empty for other runs. */
  triggeringEvents: DatasetEventInfo[];
  log: TaskLogger;
  /** Aborted when the try times out or is cancelled. */
  signal: AbortSignal;
  /** The result (XCom) of an upstream task of this run, typed by that task's return type. */
  pull<R>(task: TaskHandle<R>): Promise<R>;
}

export interface TaskLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

export type TaskFunction<P extends ParamsSpec, R> = (ctx: TaskContext<P>) => R | Promise<R>;

/** A reference to a task, used to build dependencies and to pull its result. `R` is its result type. */
export interface TaskHandle<R = unknown> {
  readonly id: string;
  readonly dagId: string;
  /** Makes `next` (a task or a list of tasks) run after this one; returns `next` for chaining. */
  then<N extends TaskHandle<unknown> | readonly TaskHandle<unknown>[]>(next: N): N;
  /** Makes this task run after every task in `upstream`; returns this task. */
  after(...upstream: (TaskHandle<unknown> | readonly TaskHandle<unknown>[])[]): this;
  /** @internal phantom field carrying the result type. */
  readonly __result?: R;
}

/** What a branch's function returns: the direct downstream task(s) to follow; null, undefined or [] follows none. */
export type BranchChoice = TaskHandle<unknown> | string | readonly (TaskHandle<unknown> | string)[] | null | undefined;

/** Options of a mapped task (t.map): what to map over, and the task's own options. */
export interface MapOptions<T> extends TaskOptions {
  /** An upstream task whose result is an array (the dependency is added), or a literal array (JSON). */
  over: TaskHandle<readonly T[]> | readonly T[];
  /** Most instances the task may expand to; a longer list fails the task. Default 1024 (Airflow's max_map_length). */
  maxLength?: number;
}

/** A mapped task's function: called once per item, with the instance's context (ctx.mapIndex). */
export type MappedFunction<P extends ParamsSpec, T, R> = (ctx: TaskContext<P>, item: T) => R | Promise<R>;
