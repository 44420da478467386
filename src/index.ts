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
export type {
  TaskCallback,
  TaskCallbackInfo,
  TaskCallbacks,
  RunCallback,
  RunCallbackContext,
  RunCallbackInfo,
  RunCallbacks,
} from './dag/callbacks.js';
export type { EventsOptions } from './dag/events.js';
export type { SqlConfig, SqlResult } from './dag/operators/sql.js';
export type { SyncConfig, SyncResult } from './dag/operators/sync.js';
export type { CleanseConfig, CleanseRule, CleanseResult, CastType } from './dag/operators/cleanse.js';
export type { ReportConfig, ReportResult, ReportFormat } from './dag/operators/report.js';
export type { Statement, StatementInput, StatementsSpec } from './dag/operators/statement.js';
export type { DatasetEventInfo, DatasetScheduleOption, DatasetWhen } from './dag/datasets.js';
export type {
  SensorConfig,
  SensorOptions,
  SensorMode,
  SqlSensorConfig,
  PokeFunction,
} from './dag/operators/sensor.js';
