import { createHash } from 'node:crypto';
import type { CompiledDagOptions, TaskSettings } from './options.js';
import type { DatasetSchedule } from './datasets.js';
import type { ParamsSpec } from './types.js';
import { callbackEvents, type CallbackEvent } from './callbacks.js';
import type { EventsSpec } from './events.js';

/** Bumped when the stored shape changes, so readers can tell old versions apart. */
export const SERIALIZED_FORMAT = 1;

/**
 * A task as stored: only the settings that differ from the DAG's `taskDefaults`
 * (read them with `taskSettings`). Repeating every setting on every task made a
 * 10,000-task DAG 2.4 MB of JSON and its store twice as slow (bench/parse).
 */
export interface SerializedTask extends Partial<TaskSettings> {
  id: string;
  /** 'task' for a TypeScript function; operators name themselves ('sql', 'sync', ...). */
  operator: string;
  /** Operator settings that are plain data (never functions); absent for 'task'. */
  config?: unknown;
  /** Dataset URIs the task updates; absent when none (docs/datasets.md). */
  outlets?: string[];
  /** Which callbacks the task has in its DAG file (absent: none). */
  callbacks?: CallbackEvent[];
}

/** What the scheduler knows of a DAG: stored as jsonb in dag_versions.serialized. */
export interface SerializedDag {
  format: typeof SERIALIZED_FORMAT;
  dagId: string;
  schedule: string | null;
  /** Present only for a DAG scheduled on datasets, so other DAGs' version hashes stay as they were. */
  datasetSchedule?: DatasetSchedule;
  timezone: string;
  startDate: string | null;
  endDate: string | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  tags: string[];
  description: string | null;
  owner: string | null;
  /** null: the installation's default (UPDRAFT_DAGS_PAUSED_AT_CREATION). */
  pausedAtCreation: boolean | null;
  params: ParamsSpec;
  /** Settings of every task unless the task says otherwise. */
  taskDefaults: TaskSettings;
  tasks: SerializedTask[];
  /** [upstream, downstream] task ids. */
  edges: [string, string][];
  /** Which run callbacks the DAG has ('success', 'failure'; absent: none). */
  runCallbacks?: CallbackEvent[];
  /** The event trigger; absent without one (so other DAGs' stored form and hash stay as they were). */
  events?: EventsSpec;
}

/** A stored task's effective settings. */
export function taskSettings(dag: SerializedDag, task: SerializedTask): TaskSettings {
  const { id: _id, operator: _operator, config: _config, outlets: _outlets, callbacks: _callbacks, ...own } = task;
  return { ...dag.taskDefaults, ...own };
}

/** A task in its stored form: the settings that differ from the defaults. */
export function serializeTask(
  id: string,
  operator: string,
  settings: TaskSettings,
  defaults: TaskSettings,
  config: unknown,
  outlets: readonly string[] = [],
  callbacks?: CallbackEvent[],
): SerializedTask {
  const task: Record<string, unknown> = { id, operator };
  for (const key of Object.keys(settings) as (keyof TaskSettings)[]) {
    if (settings[key] !== defaults[key]) task[key] = settings[key];
  }
  if (config !== null && config !== undefined) task.config = config;
  if (outlets.length > 0) task.outlets = [...outlets];
  if (callbacks) task.callbacks = callbacks;
  return task as unknown as SerializedTask;
}

export function serializeOptions(options: CompiledDagOptions): Omit<SerializedDag, 'tasks' | 'edges'> {
  return {
    format: SERIALIZED_FORMAT,
    dagId: options.id,
    schedule: options.schedule,
    ...(options.datasetSchedule ? { datasetSchedule: options.datasetSchedule } : {}),
    timezone: options.timezone,
    startDate: options.startDate?.toISOString() ?? null,
    endDate: options.endDate?.toISOString() ?? null,
    catchup: options.catchup,
    maxActiveRuns: options.maxActiveRuns,
    maxActiveTasks: options.maxActiveTasks,
    tags: options.tags,
    description: options.description,
    owner: options.owner,
    pausedAtCreation: options.pausedAtCreation,
    params: options.params,
    taskDefaults: options.defaults,
    // Only when there are any: a DAG without callbacks keeps its stored form (and hash).
    ...(callbackEvents(options.runCallbacks) ? { runCallbacks: callbackEvents(options.runCallbacks) } : {}),
    ...(options.events ? { events: options.events } : {}),
  };
}

/**
 * The version hash: the serialized structure and the file's source, so that a change
 * to a task's code makes a new version even when the graph stays the same.
 */
export function versionHash(serialized: SerializedDag, source: string): string {
  return createHash('sha256').update(JSON.stringify(serialized)).update('\0').update(source).digest('hex');
}
