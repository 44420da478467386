import { z } from 'zod';
import { DagDefinitionError } from '../errors.js';
import { parseDateInZone, validateSchedule, validateTimezone } from '../schedule/index.js';
import { describeIssues, durationField } from '../util/validation.js';
import { checkParamsSpec } from './params.js';
import { checkDatasetUris, type DatasetSchedule } from './datasets.js';
import { callbackField, type RunCallbacks, type TaskCallbacks } from './callbacks.js';
import { compileEvents, EventsOptionError, type EventsSpec } from './events.js';
import { TRIGGER_RULES, type DagOptions, type ParamsSpec, type TaskOptions } from './types.js';

/** Task settings after defaults and validation; durations in milliseconds. */
export interface TaskSettings {
  triggerRule: (typeof TRIGGER_RULES)[number];
  retries: number;
  retryDelayMs: number;
  retryBackoff: boolean;
  maxRetryDelayMs: number;
  timeoutMs: number | null;
  priority: number;
  pool: string;
  queue: string;
  description: string | null;
}

export interface CompiledDagOptions {
  id: string;
  /** The cron or preset; null for manual-only and dataset-scheduled DAGs. */
  schedule: string | null;
  /** Set when the DAG is scheduled on datasets (docs/datasets.md). */
  datasetSchedule: DatasetSchedule | null;
  timezone: string;
  startDate: Date | null;
  endDate: Date | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  tags: string[];
  description: string | null;
  owner: string | null;
  pausedAtCreation: boolean | null;
  params: ParamsSpec;
  /** Task settings every task starts from. */
  defaults: TaskSettings;
  /** Callbacks in `defaults` (functions: kept out of the stored settings). */
  defaultCallbacks: TaskCallbacks;
  /** The run's callbacks. */
  runCallbacks: RunCallbacks;
  /** Event trigger (src/dag/events.ts); null without one. */
  events: EventsSpec | null;
}

export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,250}$/;
const ID_HINT = 'use 1 to 250 letters, digits, "_", "-" or "."';

const idField = z.string().regex(ID_PATTERN, { message: ID_HINT });
const positiveInt = z.number().int().min(1);

const taskOptionsSchema = z.strictObject({
  triggerRule: z.enum(TRIGGER_RULES).optional(),
  retries: z.number().int().min(0).optional(),
  retryDelay: durationField.optional(),
  retryBackoff: z.boolean().optional(),
  maxRetryDelay: durationField.optional(),
  timeout: durationField.refine((ms) => ms > 0, { message: 'must be longer than 0' }).optional(),
  priority: z.number().int().optional(),
  pool: idField.optional(),
  queue: idField.optional(),
  description: z.string().optional(),
  onSuccess: callbackField.optional(),
  onFailure: callbackField.optional(),
  onRetry: callbackField.optional(),
});

/** Keys of TaskOptions: an operator's config object may carry them beside its own settings. */
export const TASK_OPTION_KEYS: ReadonlySet<string> = new Set([...Object.keys(taskOptionsSchema.shape), 'outlets']);

const dateField = z.union([z.string(), z.date()]);

const datasetScheduleSchema = z.strictObject({
  datasets: z.array(z.unknown()),
  when: z.enum(['all', 'any']).optional(),
});

const dagOptionsSchema = z.strictObject({
  id: idField,
  // A string or { datasets, when }: checked in compileDagOptions, where errors can name the inner field.
  schedule: z.unknown().optional(),
  timezone: z.string().optional(),
  startDate: dateField.optional(),
  endDate: dateField.optional(),
  catchup: z.boolean().optional(),
  maxActiveRuns: positiveInt.optional(),
  maxActiveTasks: positiveInt.optional(),
  defaults: taskOptionsSchema.omit({ description: true }).optional(),
  tags: z.array(z.string().min(1)).optional(),
  description: z.string().optional(),
  owner: z.string().optional(),
  pausedAtCreation: z.boolean().optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  onSuccess: callbackField.optional(),
  onFailure: callbackField.optional(),
  events: z.unknown().optional(),
});

/** Airflow's defaults where Airflow has one (retry_delay 300 s, max_active_runs/tasks 16). */
const BASE_SETTINGS: TaskSettings = {
  triggerRule: 'all_success',
  retries: 0,
  retryDelayMs: 5 * 60_000,
  retryBackoff: false,
  maxRetryDelayMs: 24 * 3_600_000,
  timeoutMs: null,
  priority: 1,
  pool: 'default_pool',
  queue: 'default',
  description: null,
};

function dagLabel(options: unknown): string {
  const id = (options as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? `DAG '${id}'` : 'DAG';
}

/** Validates and normalises a DAG's options; errors name the field. */
export function compileDagOptions(options: DagOptions<ParamsSpec>): CompiledDagOptions {
  const label = dagLabel(options);
  const parsed = dagOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.map(String).join('.');
    throw new DagDefinitionError(`${label}: ${describeIssues(parsed.error)}`, { field });
  }
  const o = parsed.data;
  const fail = (field: string, message: string): never => {
    throw new DagDefinitionError(`${label}: ${field}: ${message}`, { field });
  };
  const attempt = <T>(field: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      return fail(field, (error as Error).message);
    }
  };

  const timezone = o.timezone ?? 'UTC';
  attempt('timezone', () => validateTimezone(timezone));
  let datasetSchedule: DatasetSchedule | null = null;
  if (typeof o.schedule === 'object' && o.schedule !== null) {
    const onDatasets = datasetScheduleSchema.safeParse(o.schedule);
    if (!onDatasets.success) {
      const path = onDatasets.error.issues[0]?.path.map(String).join('.');
      throw new DagDefinitionError(`${label}: ${describeIssues(onDatasets.error, 'schedule')}`, {
        field: path ? `schedule.${path}` : 'schedule',
      });
    }
    const uris = checkDatasetUris(onDatasets.data.datasets, label, 'schedule.datasets');
    if (uris.length === 0)
      fail('schedule.datasets', 'list at least one dataset URI (or set schedule: null for manual runs only)');
    datasetSchedule = { uris, when: onDatasets.data.when ?? 'all' };
  } else if (o.schedule !== undefined && o.schedule !== null && typeof o.schedule !== 'string') {
    fail('schedule', `expected a cron expression, a preset, { datasets: [...] } or null, got ${typeof o.schedule}`);
  }
  const schedule = typeof o.schedule === 'string' ? o.schedule : null;
  if (schedule !== null) attempt('schedule', () => validateSchedule(schedule, timezone));
  const startDate =
    o.startDate === undefined ? null : attempt('startDate', () => parseDateInZone(o.startDate!, timezone));
  const endDate = o.endDate === undefined ? null : attempt('endDate', () => parseDateInZone(o.endDate!, timezone));
  if (schedule !== null && startDate === null)
    fail('startDate', `required when the DAG has a schedule ('${schedule}')`);
  if (startDate && endDate && startDate > endDate) {
    fail('endDate', `${endDate.toISOString()} is before startDate ${startDate.toISOString()}`);
  }
  const params = (o.params ?? {}) as ParamsSpec;
  attempt('params', () => checkParamsSpec(params));
  // A dataset-triggered run has no conf of a person's to fill a param without a default
  // (Airflow refuses such a DAG with a schedule for the same reason).
  const required = Object.entries(params).find(([, spec]) => spec.default === undefined);
  if (datasetSchedule && required)
    fail(`params.${required[0]}`, 'needs a default: runs scheduled on datasets have no conf to set it');
  let events: EventsSpec | null = null;
  try {
    if (o.events !== undefined) events = compileEvents(o.events);
  } catch (error) {
    if (!(error instanceof EventsOptionError)) throw error;
    throw new DagDefinitionError(`${label}: ${error.message}`, { field: error.field });
  }

  return {
    id: o.id,
    schedule,
    datasetSchedule,
    timezone,
    startDate,
    endDate,
    catchup: o.catchup ?? false,
    maxActiveRuns: o.maxActiveRuns ?? 16,
    maxActiveTasks: o.maxActiveTasks ?? 16,
    tags: o.tags ?? [],
    description: o.description ?? null,
    owner: o.owner ?? null,
    pausedAtCreation: o.pausedAtCreation ?? null,
    params,
    defaults: applyTaskOptions(BASE_SETTINGS, o.defaults ?? {}),
    defaultCallbacks: {
      onSuccess: o.defaults?.onSuccess,
      onFailure: o.defaults?.onFailure,
      onRetry: o.defaults?.onRetry,
    } as TaskCallbacks,
    runCallbacks: { onSuccess: o.onSuccess, onFailure: o.onFailure } as RunCallbacks,
    events,
  };
}

type ParsedTaskOptions = z.output<typeof taskOptionsSchema>;

function applyTaskOptions(
  base: TaskSettings,
  o: Omit<ParsedTaskOptions, 'description'> & { description?: string },
): TaskSettings {
  return {
    triggerRule: o.triggerRule ?? base.triggerRule,
    retries: o.retries ?? base.retries,
    retryDelayMs: o.retryDelay ?? base.retryDelayMs,
    retryBackoff: o.retryBackoff ?? base.retryBackoff,
    maxRetryDelayMs: o.maxRetryDelay ?? base.maxRetryDelayMs,
    timeoutMs: o.timeout ?? base.timeoutMs,
    priority: o.priority ?? base.priority,
    pool: o.pool ?? base.pool,
    queue: o.queue ?? base.queue,
    description: o.description ?? null,
  };
}

/** Validates a task's options against the DAG's defaults; errors name the task and the field. */
export function compileTaskOptions(
  dagId: string,
  taskId: string,
  defaults: TaskSettings,
  options: TaskOptions,
): TaskSettings {
  // Most tasks set nothing: skip the schema (a tenth of a 10,000-task DAG's import time).
  if (Object.keys(options).length === 0) return { ...defaults, description: null };
  const parsed = taskOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path.map(String).join('.');
    throw new DagDefinitionError(`DAG '${dagId}': task '${taskId}': ${describeIssues(parsed.error)}`, { field });
  }
  return applyTaskOptions(defaults, parsed.data);
}

export { idField, ID_HINT };
