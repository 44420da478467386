/**
 * Datasets (Airflow 2's data-aware scheduling): a task declares the datasets it updates
 * (`outlets`), a DAG may be scheduled on datasets instead of a cron. A dataset is only a
 * URI, as in Airflow: Updraft never looks inside it. See docs/datasets.md.
 */
import { DagDefinitionError } from '../errors.js';

/** Airflow caps a dataset URI at 3,000 characters; 1,000 keeps the UI and index readable. */
export const MAX_URI_LENGTH = 1_000;

/** How a DAG scheduled on datasets is triggered: 'all' of them updated (Airflow's list), or 'any' (DatasetAny). */
export type DatasetWhen = 'all' | 'any';

/** A DAG's schedule on datasets, as written in a DAG file. */
export interface DatasetScheduleOption {
  /** Dataset URIs, e.g. 'warehouse://public.daily_sales'. */
  datasets: string[];
  /** 'all' (default): every dataset updated since the DAG's last dataset-triggered run; 'any': at least one. */
  when?: DatasetWhen;
}

/** A dataset schedule after validation, as stored with the DAG. */
export interface DatasetSchedule {
  uris: string[];
  when: DatasetWhen;
}

/** A dataset event a dataset-triggered run was created for; `ctx.triggeringEvents` and the run's conf carry them. */
export interface DatasetEventInfo {
  uri: string;
  /** ISO time the producing task's success was recorded. */
  at: string;
  sourceDagId: string;
  sourceRunId: string;
  sourceTaskId: string;
  sourceTryNumber: number;
}

/** The conf key of a dataset-triggered run that holds its triggering events. */
export const TRIGGERING_EVENTS_KEY = 'triggeringDatasetEvents';

/** Checks a list of dataset URIs; `where` is the message prefix and `field` the error's field. */
export function checkDatasetUris(value: unknown, where: string, field: string): string[] {
  const fail = (path: string, message: string): never => {
    throw new DagDefinitionError(`${where}: ${path}: ${message}`, { field });
  };
  if (!Array.isArray(value))
    return fail(field, `expected a list of dataset URIs, got ${value === null ? 'null' : typeof value}`);
  const seen = new Set<string>();
  for (const [i, uri] of (value as unknown[]).entries()) {
    const at = `${field}[${i}]`;
    if (typeof uri !== 'string') return fail(at, `expected a string, got ${uri === null ? 'null' : typeof uri}`);
    if (uri.length === 0) return fail(at, 'must not be empty');
    if (/\s/.test(uri)) return fail(at, `${JSON.stringify(uri)} contains whitespace`);
    if (uri.length > MAX_URI_LENGTH)
      return fail(at, `is ${uri.length} characters long, at most ${MAX_URI_LENGTH} allowed`);
    if (seen.has(uri)) return fail(at, `duplicate dataset '${uri}'`);
    seen.add(uri);
  }
  return value as string[];
}

/** "on datasets: a, b (all)": how lists, pages and the CLI show a dataset schedule. */
export function describeDatasetSchedule(s: DatasetSchedule): string {
  return `on datasets: ${s.uris.join(', ')} (${s.when})`;
}
