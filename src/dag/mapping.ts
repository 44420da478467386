/**
 * Dynamic task mapping's definition side (t.map): checks the options and turns them
 * into the plain-data config stored with the DAG version, which the scheduler reads to
 * expand the task (src/state/expand-mapping.ts).
 */
import { DagDefinitionError } from '../errors.js';
import { jsonProblem } from '../util/json-result.js';
import type { TaskHandle, TaskOptions } from './types.js';

/** Airflow's max_map_length default. */
export const DEFAULT_MAX_MAP_LENGTH = 1024;

/** A mapped task's stored config: the upstream task it maps over, or literal items. */
export type MapConfig = { over: string; maxLength: number } | { items: unknown[]; maxLength: number };

export function mapDefinition(
  dagId: string,
  id: string,
  options: unknown,
  fn: unknown,
  isOwnTask: (ref: unknown) => boolean,
): { taskOptions: TaskOptions; config: MapConfig; upstream: TaskHandle<unknown> | undefined } {
  const fail = (message: string, field: string) =>
    new DagDefinitionError(`DAG '${dagId}': task '${id}' (map): ${message}`, {
      field: `tasks.${id}${field ? `.${field}` : ''}`,
    });
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw fail('expected an options object with `over` as the second argument', '');
  if (typeof fn !== 'function') throw fail('expected a function (ctx, item) as the last argument', '');
  const { over, maxLength = DEFAULT_MAX_MAP_LENGTH, ...taskOptions } = options as Record<string, unknown>;
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 1)
    throw fail(`maxLength must be a positive integer, got ${JSON.stringify(maxLength)}`, 'maxLength');
  if (Array.isArray(over)) {
    if (over.length > maxLength) throw fail(`over has ${over.length} items, more than maxLength ${maxLength}`, 'over');
    const problem = jsonProblem(over);
    if (problem) throw fail(`over must be JSON: ${problem.replace(/^the result/, 'the list')}`, 'over');
    return { taskOptions: taskOptions as TaskOptions, config: { items: [...over], maxLength }, upstream: undefined };
  }
  if (over === undefined || over === null)
    throw fail('over is required: an upstream task (what t.task() returned) or a literal array', 'over');
  if (!isOwnTask(over)) throw fail(`over must be a task of this DAG or a literal array, got ${typeof over}`, 'over');
  const upstream = over as TaskHandle<unknown>;
  return { taskOptions: taskOptions as TaskOptions, config: { over: upstream.id, maxLength }, upstream };
}
