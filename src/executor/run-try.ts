import path from 'node:path';
import { resolveParams } from '../dag/params.js';
import type { InFlight } from './in-flight.js';
import { ITEM } from './inputs.js';
import { toStorableText } from '../util/json-result.js';
import type { TaskPool } from './pool.js';
import type { Question, TaskOutcome } from './protocol.js';

export interface RunTryOptions {
  dagsFolder: string;
  /** Its thread took the try. */
  onStarted: (entry: InFlight) => void;
  /** Answers what the running try asks (inputs.ts, answer). */
  onAsk: (entry: InFlight, question: Question) => Promise<unknown>;
}

/**
 * Runs one held try in the task pool with its upstream results. Whatever goes wrong on this
 * side (a task missing from its version, a conf its params refuse, the pool itself) becomes
 * the try's failure, never a crash: every try ends with an outcome to store.
 */
export async function runTry(
  pool: TaskPool,
  entry: InFlight,
  upstreamResults: Record<string, unknown>,
  options: RunTryOptions,
): Promise<TaskOutcome> {
  try {
    return await runInPool(pool, entry, upstreamResults, options);
  } catch (error) {
    return { status: 'failed', error: `could not run the task: ${(error as Error).message}`, retryable: true };
  }
}

async function runInPool(
  pool: TaskPool,
  entry: InFlight,
  upstreamResults: Record<string, unknown>,
  options: RunTryOptions,
): Promise<TaskOutcome> {
  const { claim, structure, code } = entry;
  const task = structure.tasks.get(claim.task_id);
  if (!task)
    return {
      status: 'failed',
      error: `task '${claim.task_id}' is not in this version of DAG '${structure.dagId}'`,
      retryable: false,
    };
  // The try runs the latest code: its timeout is the one that code sets.
  const timeoutMs = (code.tasks.get(claim.task_id) ?? task).timeoutMs;
  let params: Record<string, unknown>;
  try {
    params = resolveParams(structure.serialized.params, claim.conf);
  } catch (error) {
    return {
      status: 'failed',
      error: `the run's conf does not match the DAG's params: ${(error as Error).message}`,
      retryable: false,
    };
  }
  const { [ITEM]: fromUpstream, ...upstream } = upstreamResults;
  const mapped = task.mapped;
  return pool.run(
    {
      file: path.join(options.dagsFolder, code.file),
      fileVersion: code.hash,
      dagId: structure.dagId,
      taskId: claim.task_id,
      runId: claim.run_id,
      taskInstanceId: claim.id,
      logicalDate: claim.logical_date.toISOString(),
      intervalStart: claim.interval_start.toISOString(),
      intervalEnd: claim.interval_end.toISOString(),
      tryNumber: claim.try_number,
      maxTries: claim.max_tries,
      ...(claim.sensor_started_at ? { sensorStartedAt: claim.sensor_started_at.toISOString() } : {}),
      params,
      conf: claim.conf,
      runType: claim.run_type,
      upstreamResults: upstream,
      mapIndex: claim.map_index,
      mapItem: mapped === undefined ? undefined : 'items' in mapped ? mapped.items[claim.map_index] : fromUpstream,
    },
    {
      timeoutMs,
      signal: entry.abort.signal,
      onLog: (line) => entry.logs.push({ level: line.level, message: toStorableText(line.message), at: line.at }),
      onStarted: () => options.onStarted(entry),
      onAsk: (question) => options.onAsk(entry, question),
    },
  );
}
