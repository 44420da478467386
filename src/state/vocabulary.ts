/**
 * The state vocabulary, in one place: every task, run and backfill state, which of them are
 * finished, their colours, and the SQL predicate of "unfinished". The database's enums
 * (src/db/schema.ts) are generated from these lists, so this file imports nothing: it is the
 * one part of the state layer that the layers below it may read.
 */

/**
 * A task instance's states, in the enum's order (a value is only ever appended: PostgreSQL
 * refuses a value added in the same transaction as its first use). A null
 * task_instances.state is Airflow's "none": not yet considered by the scheduler.
 * up_for_reschedule is a sensor in reschedule mode between pokes (docs/sensors.md).
 */
export const TASK_STATES = [
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'upstream_failed',
  'skipped',
  'removed',
  'up_for_reschedule',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];
/** The states a run ends in. */
export type FinishedRunState = Extract<RunState, 'success' | 'failed'>;

export const BACKFILL_STATES = ['running', 'paused', 'completed', 'cancelled'] as const;
export type BackfillState = (typeof BACKFILL_STATES)[number];

/** Task states that end a task instance: nothing moves it again but a clear or a mark. */
export const FINISHED_TASK_STATES = [
  'success',
  'failed',
  'skipped',
  'upstream_failed',
  'removed',
] as const satisfies readonly TaskState[];

/** States that end one try (a retry or a reschedule is the end of a try, not of the task). */
export const TRY_END_STATES: readonly TaskState[] = [...FINISHED_TASK_STATES, 'up_for_retry', 'up_for_reschedule'];

/** Finished task states that fail a run when a leaf ends in them. */
export const FAILED_TASK_STATES = ['failed', 'upstream_failed'] as const satisfies readonly TaskState[];

/** Run states of a run not over yet. */
export const UNFINISHED_RUN_STATES = ['queued', 'running'] as const satisfies readonly RunState[];

const FINISHED: ReadonlySet<TaskState | null> = new Set(FINISHED_TASK_STATES);

/** True for none (null) and every state that still moves (scheduled ... up_for_reschedule). */
export function isUnfinished(state: TaskState | null): boolean {
  return !FINISHED.has(state);
}

/** A list of states as SQL literals: ('a', 'b'). The values are this file's constants. */
export function stateList(states: readonly string[]): string {
  return `(${states.map((s) => `'${s}'`).join(', ')})`;
}

/**
 * "Unfinished" as SQL over `column`, word for word the predicate of the partial index
 * task_instances_unfinished_idx: the planner uses that index only for a query that repeats it.
 * It names the finished states, so a state added later is unfinished without a migration.
 */
export function unfinishedPredicate(column: string): string {
  return `${column} is null or ${column} not in ${stateList(FINISHED_TASK_STATES)}`;
}

/** Each state's colour, Airflow's; `none` is the colour of a null state. Keyed by string: pages look up what they read. */
export const STATE_COLOURS: Readonly<Record<string, string>> = {
  success: '#2e7d32',
  failed: '#c62828',
  running: '#00a8e8',
  queued: '#8d8d8d',
  scheduled: '#b39ddb',
  up_for_retry: '#fbc02d',
  up_for_reschedule: '#40e0d0',
  upstream_failed: '#ef6c00',
  skipped: '#f48fb1',
  removed: '#bdbdbd',
  none: '#eeeeee',
} satisfies Record<TaskState | RunState | 'none', string>;
