/**
 * The public authoring API: what DAG files import from 'updraft'.
 *
 *   import { dag } from 'updraft';
 */
export { dag, Dag, DagBuilder, isDag } from './dag/builder.js';
export { SkipTask, FailTask } from './dag/signals.js';
export { DagDefinitionError } from './errors.js';
export type {
  DagOptions,
  TaskOptions,
  TaskDefaults,
  RetryOptions,
  TaskContext,
  TaskHandle,
  TaskFunction,
  TaskLogger,
  TriggerRule,
  ParamSpec,
  ParamsSpec,
  ParamsOf,
  DataInterval,
} from './dag/types.js';
export type { Duration } from './util/duration.js';
