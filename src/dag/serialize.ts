import { createHash } from 'node:crypto';
import type { CompiledDagOptions, TaskSettings } from './options.js';
import type { ParamsSpec } from './types.js';
import type { EventsSpec } from '../events/spec.js';

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
}

/** What the scheduler knows of a DAG: stored as jsonb in dag_versions.serialized. */
export interface SerializedDag {
  format: typeof SERIALIZED_FORMAT;
  dagId: string;
  schedule: string | null;
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
  /** The event trigger; absent without one (so other DAGs' stored form and hash stay as they were). */
  events?: EventsSpec;
}

/** A stored task's effective settings. */
export function taskSettings(dag: SerializedDag, task: SerializedTask): TaskSettings {
  const { id: _id, operator: _operator, config: _config, ...own } = task;
  return { ...dag.taskDefaults, ...own };
}

/** A task in its stored form: the settings that differ from the defaults. */
export function serializeTask(id: string, operator: string, settings: TaskSettings, defaults: TaskSettings, config: unknown): SerializedTask {
  const task: Record<string, unknown> = { id, operator };
  for (const key of Object.keys(settings) as (keyof TaskSettings)[]) {
    if (settings[key] !== defaults[key]) task[key] = settings[key];
  }
  if (config !== null && config !== undefined) task.config = config;
  return task as unknown as SerializedTask;
}

export function serializeOptions(options: CompiledDagOptions): Omit<SerializedDag, 'tasks' | 'edges'> {
  return {
    format: SERIALIZED_FORMAT,
    dagId: options.id,
    schedule: options.schedule,
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
