/**
 * Sensors as DAG files write them (`t.sensor`, `t.sqlSensor`), checked when the file is
 * parsed: Airflow's BaseSensorOperator settings (poke_interval 60 s, timeout 7 days,
 * mode poke | reschedule, soft_fail), with errors naming the DAG, the task and the field.
 */
import { z } from 'zod';
import { DagDefinitionError } from '../../errors.js';
import type { ParamsSpec, TaskContext, TaskOptions } from '../types.js';
import type { Duration } from '../../util/duration.js';
import { formatDuration } from '../../util/duration.js';
import { describeIssues, durationField } from '../../util/validation.js';
import { columnField, connField, tableField } from './fields.js';
import { oneStatementField, type StatementsSpec, type StatementInput } from './statement.js';

export const SENSOR_MODES = ['poke', 'reschedule'] as const;
export type SensorMode = (typeof SENSOR_MODES)[number];

/** Airflow's BaseSensorOperator defaults: poke_interval 60 s, timeout 7 days. */
export const DEFAULT_INTERVAL_MS = 60_000;
export const DEFAULT_TIMEOUT_MS = 7 * 86_400_000;

/** What every sensor takes besides its condition. */
export interface SensorOptions {
  /** Wait between pokes. Default '60s'. */
  interval?: Duration;
  /** Give up this long after the first poke (of the current try): the task fails without retrying, or is skipped with softFail. Default '7d'. */
  timeout?: Duration;
  /** 'poke' holds the worker slot between pokes; 'reschedule' frees it (state up_for_reschedule). Default 'poke'. */
  mode?: SensorMode;
  /** On timeout, end as skipped instead of failed. Default false. */
  softFail?: boolean;
  /** A single try (one poke in reschedule mode) running longer is aborted: the task option `timeout`, named apart because `timeout` is the sensor's. Default: the DAG's defaults.timeout. */
  executionTimeout?: Duration;
}

/**
 * A poke: falsy keeps waiting; truthy ends the sensor with success. A truthy value other
 * than `true` is kept as the task's XCom (Airflow's PokeReturnValue).
 */
export type PokeFunction<R, P extends ParamsSpec = ParamsSpec> = (ctx: TaskContext<P>) => R | Promise<R>;

/** `t.sensor(id, config)`: the poke function, the sensor settings and the task options (whose `timeout` is the sensor's here). */
export type SensorConfig<R, P extends ParamsSpec = ParamsSpec> = SensorOptions &
  Omit<TaskOptions, 'timeout'> & { poke: PokeFunction<R, P> };

/** `t.sqlSensor`: true when the query returns a row (whose first column, if any, is truthy), or when rows of the run's interval exist. */
export type SqlSensorConfig = SensorOptions &
  Omit<TaskOptions, 'timeout'> & {
    /** The connection to query. */
    conn: string;
  } & (
    | {
        /** SQL text with $1.. placeholders, { text, values }, or a function of the context returning one. */ sql: StatementsSpec<StatementInput>;
        table?: never;
        column?: never;
      }
    | {
        sql?: never /** 'orders' or 'public.orders'. */;
        table: string /** A timestamp column: a row with it in [interval.start, interval.end) makes the sensor true. */;
        column: string;
      }
  );

/** Sensor settings after validation, stored with the task (plain data). */
export interface CompiledSensor {
  intervalMs: number;
  timeoutMs: number;
  mode: SensorMode;
  softFail: boolean;
}

/** The SQL sensor's stored config: the sensor settings plus the query or the table to look in. */
export interface SqlSensorSettings extends CompiledSensor {
  conn: string;
  sql?: unknown;
  table?: string;
  column?: string;
}

const sensorSchema = z.strictObject({
  interval: durationField.refine((ms) => ms > 0, { message: 'must be longer than 0' }).optional(),
  timeout: durationField.refine((ms) => ms > 0, { message: 'must be longer than 0' }).optional(),
  mode: z.enum(SENSOR_MODES, { message: `must be one of ${SENSOR_MODES.map((m) => `'${m}'`).join(', ')}` }).optional(),
  softFail: z.boolean().optional(),
  // Checked here so that its errors name it; the task option `timeout` takes its value.
  executionTimeout: durationField.refine((ms) => ms > 0, { message: 'must be longer than 0' }).optional(),
});

const sqlPartSchema = z.strictObject({
  conn: connField,
  sql: oneStatementField.optional(),
  table: tableField.optional(),
  column: columnField.optional(),
});

/** Keys a sensor's config object may carry besides the task options. */
export const SENSOR_KEYS: ReadonlySet<string> = new Set(Object.keys(sensorSchema.shape));
export const SQL_SENSOR_KEYS: ReadonlySet<string> = new Set([...SENSOR_KEYS, ...Object.keys(sqlPartSchema.shape)]);

function fail(dagId: string, taskId: string, kind: string, issues: z.ZodError): never {
  const path = issues.issues[0]?.path.map(String).join('.');
  throw new DagDefinitionError(`DAG '${dagId}': task '${taskId}' (${kind}): ${describeIssues(issues)}`, {
    field: `tasks.${taskId}${path ? `.${path}` : ''}`,
  });
}

/** Checks and normalises a sensor's settings; `input` holds only SENSOR_KEYS (executionTimeout goes to the task options). */
export function compileSensor(
  dagId: string,
  taskId: string,
  kind: string,
  input: Record<string, unknown>,
): CompiledSensor {
  const parsed = sensorSchema.safeParse(input);
  if (!parsed.success) fail(dagId, taskId, kind, parsed.error);
  const intervalMs = parsed.data.interval ?? DEFAULT_INTERVAL_MS;
  const timeoutMs = parsed.data.timeout ?? DEFAULT_TIMEOUT_MS;
  if (timeoutMs < intervalMs) {
    throw new DagDefinitionError(
      `DAG '${dagId}': task '${taskId}' (${kind}): timeout (${formatDuration(timeoutMs)}) must be at least the interval (${formatDuration(intervalMs)})`,
      { field: `tasks.${taskId}.timeout` },
    );
  }
  return { intervalMs, timeoutMs, mode: parsed.data.mode ?? 'poke', softFail: parsed.data.softFail ?? false };
}

/** Checks the SQL sensor's own fields: `sql`, or `table` with `column`, never both. */
export function compileSqlPart(
  dagId: string,
  taskId: string,
  input: Record<string, unknown>,
): Pick<SqlSensorSettings, 'conn' | 'sql' | 'table' | 'column'> {
  const parsed = sqlPartSchema.safeParse(input);
  if (!parsed.success) fail(dagId, taskId, 'sql_sensor', parsed.error);
  const { conn, sql, table, column } = parsed.data;
  const error = (field: string, message: string) =>
    new DagDefinitionError(`DAG '${dagId}': task '${taskId}' (sql_sensor): ${field}: ${message}`, {
      field: `tasks.${taskId}.${field}`,
    });
  if (sql !== undefined && (table !== undefined || column !== undefined))
    throw error('sql', 'give either sql, or table and column, not both');
  if (sql === undefined) {
    if (table === undefined) throw error('sql', 'give sql, or table and column');
    if (column === undefined)
      throw error(
        'column',
        `required with table ('${table}'): the timestamp column to find rows of the run's interval in`,
      );
    return { conn, table, column };
  }
  return { conn, sql };
}
