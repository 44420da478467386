/**
 * Runs a sensor's try in its task thread, as Airflow's BaseSensorOperator.execute does:
 * poke, and while the condition is not met either wait `interval` in the thread (mode
 * 'poke') or end the try asking to be run again after `interval` (mode 'reschedule':
 * RescheduleSensor, which frees the worker slot). Past `timeout` since the first poke
 * the sensor fails without retrying (AirflowSensorTimeout), or is skipped with softFail.
 */
import { FailTask, SkipTask } from '../../dag/signals.js';
import type { TaskContext } from '../../dag/types.js';
import { formatDuration } from '../../util/duration.js';
import type { OperatorContext } from '../types.js';
import type { CompiledSensor, SqlSensorSettings } from '../../dag/operators/sensor.js';
import { sqlPoke } from './sql.js';

/** Thrown by a reschedule-mode sensor whose condition is not met yet: the try ends up_for_reschedule. */
export class RescheduleSensor extends Error {
  constructor(
    readonly nextPokeAt: Date,
    /** The first poke of this try: where the sensor's timeout counts from, kept across reschedules. */
    readonly firstPokeAt: Date,
  ) {
    super(`not yet; next poke at ${nextPokeAt.toISOString()}`);
    this.name = 'RescheduleSensor';
  }
}

export const SENSOR_OPERATORS: ReadonlySet<string> = new Set(['sensor', 'sql_sensor']);

/**
 * One try of a sensor. `fn` is the poke of a 't.sensor' (from the DAG module); `firstPokeAt`
 * is when a reschedule-mode sensor first poked in this try (null on its first poke).
 * Returns the XCom: undefined for a poke that returned `true`, else what it returned.
 */
export async function runSensor(
  operator: string,
  config: CompiledSensor,
  fn: ((ctx: TaskContext) => unknown) | undefined,
  ctx: OperatorContext,
  firstPokeAt: Date | null,
): Promise<unknown> {
  const { signal, log } = ctx.task;
  const poke = operator === 'sql_sensor' ? () => sqlPoke(config as SqlSensorSettings, ctx) : () => fn!(ctx.task);
  // Poke mode: every try starts its timeout afresh (Airflow's started_at is the try's start).
  const started = config.mode === 'reschedule' && firstPokeAt ? firstPokeAt : new Date();
  for (let n = 1; ; n++) {
    signal.throwIfAborted();
    const value = await poke();
    if (value) {
      log.info(`poke ${n}: condition met`);
      return value === true ? undefined : value;
    }
    const elapsed = Date.now() - started.getTime();
    if (elapsed >= config.timeoutMs) {
      const message = `sensor timed out after ${formatDuration(config.timeoutMs)}`;
      throw config.softFail ? new SkipTask(`${message} (softFail)`) : new FailTask(message);
    }
    if (config.mode === 'reschedule') {
      throw new RescheduleSensor(new Date(Date.now() + config.intervalMs), started);
    }
    // The last wait ends at the timeout, for one last poke there.
    const waitMs = Math.min(config.intervalMs, config.timeoutMs - elapsed);
    log.info(`poke ${n}: not yet; next poke in ${formatDuration(waitMs)}`);
    await sleep(waitMs, signal);
  }
}

/** Waits `ms`, or until `signal` aborts (then rejects with its reason at once). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(reasonOf(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(reasonOf(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function reasonOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}
