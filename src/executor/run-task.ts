/**
 * Runs one task try inside a task thread (see task-worker.mjs): imports the DAG
 * file, builds the task's context, runs its function and turns what happened into a
 * TaskOutcome. Never throws: every way a try can end is an outcome.
 */
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { redact, rememberEnvironmentSecrets } from '../util/mask.js';
import { isDag, type Dag } from '../dag/builder.js';
import { signalOf } from '../dag/signals.js';
import { TRIGGERING_EVENTS_KEY, type DatasetEventInfo } from '../dag/datasets.js';
import type { TaskContext, TaskHandle, TaskLogger } from '../dag/types.js';
import { captureConsole, threadConsole, withSink, type LogSink } from './console-capture.js';
import { failed, failureOf } from './failure.js';
import { jsonProblem } from '../util/json-result.js';
import { operatorNamed } from '../operators/registry.js';
import { closePools, poolFor } from '../operators/pg.js';
import type { CompiledSensor } from '../dag/operators/sensor.js';
import { RescheduleSensor, runSensor, SENSOR_OPERATORS } from '../operators/sensor/run.js';
import { OperatorError, type OperatorContext } from '../operators/types.js';
import type { Effects, LogLevel, TaskOutcome, TaskPayload, TaskThreadData } from './protocol.js';
import { ThreadChannel } from './thread-channel.js';
import { runCallback } from './run-callback.js';

captureConsole();
// A task printing a connection URL from the environment gets it masked in its log.
rememberEnvironmentSecrets();

// biome-ignore lint/correctness/noUnusedVariables: only written: holding the channel keeps it from being garbage collected.
let heldChannel: BroadcastChannel | undefined;

/**
 * Ends this thread's connection pools, then what `endChildren` ends (its esbuild service),
 * when its TaskPool ends these threads (TaskPool.close, or retiring them); says it listens.
 */
export function listenForClose(endChildren: () => Promise<unknown>): void {
  const { control } = (workerData ?? {}) as Partial<TaskThreadData>;
  if (!control) return;
  // Held by the module: an unreferenced channel is garbage collected, and hears nothing.
  const channel = new BroadcastChannel(control);
  heldChannel = channel;
  // The thread must still be able to exit while listening.
  channel.unref();
  channel.onmessage = (event) => {
    if ((event as MessageEvent).data !== 'close') return;
    void closePools()
      .finally(endChildren)
      .finally(() => channel.postMessage({ closed: threadId }));
  };
  channel.postMessage({ ready: threadId });
}

export async function runTask(payload: TaskPayload): Promise<TaskOutcome> {
  const label = `${payload.dagId}.${payload.taskId} (run ${payload.runId}, try ${payload.tryNumber})`;
  // Output after the try ended (work the task left running) has no log to go to.
  const afterEnd = (level: LogLevel, message: string) =>
    threadConsole[level === 'info' ? 'log' : level](`[${label}, after it ended] ${message}`);
  const sink: LogSink = { log: (level, message) => channel.log(level, message) };
  const channel: ThreadChannel = new ThreadChannel(payload.port, (fn) => withSink(sink, fn), afterEnd);
  try {
    const outcome = await withSink(sink, () =>
      payload.callback ? runCallback(payload, payload.callback, channel) : attempt(payload, channel),
    );
    // A driver error or a stack may echo a connection's password.
    if (outcome.status === 'failed')
      return { ...outcome, error: redact(outcome.error), ...(outcome.stack ? { stack: redact(outcome.stack) } : {}) };
    return outcome;
  } finally {
    channel.end();
  }
}

async function attempt(payload: TaskPayload, channel: ThreadChannel): Promise<TaskOutcome> {
  const { file, dagId, taskId } = payload;
  let module: Record<string, unknown>;
  try {
    module = await importDagFile(file, payload.fileVersion);
  } catch (error) {
    return failureOf(error, true, `cannot import the DAG file ${file}: `);
  }
  const dag = Object.values(module).find((value): value is Dag => isDag(value) && value.id === dagId);
  if (!dag) return failed(`the DAG file ${file} no longer defines the DAG '${dagId}'`, false);
  const task = dag.tasks.get(taskId);
  if (!task) return failed(`the DAG '${dagId}' (${file}) has no task '${taskId}' any more`, false);
  const ctx = contextOf(payload, channel);
  const effects: Effects = {};
  let result: unknown;
  try {
    if (task.operator === 'task' && task.fn) result = await task.fn(ctx);
    else if (SENSOR_OPERATORS.has(task.operator)) {
      const firstPokeAt = payload.sensorStartedAt ? new Date(payload.sensorStartedAt) : null;
      result = await runSensor(
        task.operator,
        task.config as CompiledSensor,
        task.fn,
        operatorContext(ctx, channel, effects, task.operator),
        firstPokeAt,
      );
    } else if (task.operator === 'map' && task.fn)
      result = await (task.fn as (ctx: TaskContext, item: unknown) => unknown)(ctx, payload.mapItem);
    else if (task.operator === 'branch' && task.fn) {
      const choice = followedIds(dag, taskId, await task.fn(ctx));
      if ('error' in choice) return failed(choice.error, false);
      return { status: 'success', result: choice.ids, followed: choice.ids };
    } else {
      const operator = operatorNamed(task.operator);
      if (!operator)
        return failed(
          `task '${taskId}' uses the operator '${task.operator}', which this version of Updraft does not have`,
          false,
        );
      result = await operator.run(task.config, operatorContext(ctx, channel, effects, task.operator));
    }
  } catch (error) {
    if (error instanceof RescheduleSensor)
      return { status: 'reschedule', nextPokeAt: error.nextPokeAt.getTime(), firstPokeAt: error.firstPokeAt.getTime() };
    const signal = signalOf(error);
    if (signal === 'skip') return { status: 'skipped', reason: (error as Error).message };
    // FailTask's message is the reason the task gave, not an error type.
    if (signal === 'fail') return failed((error as Error).message, false, failureOf(error, false).stack);
    // An operator's own explanation ('sync to.table: ...') is the message; it knows whether a retry can help.
    if (error instanceof OperatorError) return failed(error.message, error.retryable, failureOf(error, false).stack);
    return failureOf(error, true);
  }
  const kept = effects.state || effects.report ? { effects } : {};
  if (result === undefined) return { status: 'success', result: undefined, ...kept };
  const problem = jsonProblem(result);
  if (problem) return failed(`the result of task '${taskId}' cannot be stored as JSON: ${problem}`, true);
  return { status: 'success', result, ...kept };
}

/**
 * The ids a branch's return value names, checked against the branch's direct downstream
 * tasks (Airflow's BranchMixin): anything else fails the try, without a retry.
 */
function followedIds(dag: Dag, taskId: string, choice: unknown): { ids: string[] } | { error: string } {
  const list = choice === null || choice === undefined ? [] : Array.isArray(choice) ? choice : [choice];
  const ids: string[] = [];
  for (const item of list) {
    const id =
      typeof item === 'string'
        ? item
        : typeof item === 'object' && item !== null && typeof (item as TaskHandle).id === 'string'
          ? (item as TaskHandle).id
          : undefined;
    if (id === undefined)
      return {
        error: `branch '${taskId}' returned ${item === null ? 'null' : typeof item} in its list: expected task references or task ids`,
      };
    if (!ids.includes(id)) ids.push(id);
  }
  const allowed = [...dag.tasks.values()].filter((t) => t.upstream.has(taskId)).map((t) => t.id);
  const bad = ids.filter((id) => !allowed.includes(id));
  if (bad.length > 0) {
    const names = (l: string[]) => (l.length === 0 ? 'none' : l.map((id) => `'${id}'`).join(', '));
    return {
      error: `branch '${taskId}' returned ${names(bad)}, which ${bad.length === 1 ? 'is not a direct downstream task' : 'are not direct downstream tasks'} of it; it may follow only ${names(allowed)}`,
    };
  }
  return { ids };
}

/** What an operator gets: the task's context, the thread's connection pools, and effects kept with the outcome. */
function operatorContext(
  task: TaskContext,
  channel: ThreadChannel,
  effects: Effects,
  operator: string,
): OperatorContext {
  return {
    task,
    async connection(name, field) {
      let url: unknown;
      try {
        url = await channel.ask({ kind: 'connection', name });
      } catch (error) {
        throw new OperatorError(operator, field, (error as Error).message);
      }
      return poolFor(name, url as string);
    },
    state: {
      get: (key) => channel.ask({ kind: 'state', key }),
      set(key, value) {
        effects.state = { ...effects.state, [key]: value };
      },
    },
    saveReport(report) {
      effects.report = report;
    },
  };
}

// import() of a module already loaded still asks the loader hooks (tsx, the 'updraft'
// alias) to resolve it, a round trip to Node's loader thread: a no-op try took 421 µs
// (median, 2,900 tries/s on 2 threads) with import() every time, 106 µs (10,500/s)
// with this cache. The namespace is kept per file and version instead. Only the latest version of each file is kept
// here; Node's own module map keeps every version it imported for the thread's life.
const loaded = new Map<string, { version: string; module: Promise<Record<string, unknown>> }>();

export function importDagFile(file: string, version: string): Promise<Record<string, unknown>> {
  const cached = loaded.get(file);
  if (cached?.version === version) return cached.module;
  const module = import(`${pathToFileURL(file).href}?v=${encodeURIComponent(version)}`) as Promise<
    Record<string, unknown>
  >;
  loaded.set(file, { version, module });
  // A failed import is not cached: the next try imports again.
  module.catch(() => {
    if (loaded.get(file)?.module === module) loaded.delete(file);
  });
  return module;
}

/** A dataset-triggered run keeps its triggering events in its conf (scheduler/dataset-runs.ts). */
function triggeringEventsOf(conf: Record<string, unknown>): DatasetEventInfo[] {
  const events = conf[TRIGGERING_EVENTS_KEY];
  return Array.isArray(events) ? (events as DatasetEventInfo[]) : [];
}

export function contextOf(payload: TaskPayload, channel: ThreadChannel): TaskContext {
  const { dagId, upstreamResults } = payload;
  const log =
    (level: LogLevel) =>
    (message: string, ...args: unknown[]) =>
      channel.log(level, format(message, ...args));
  const logger: TaskLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  return {
    dagId,
    taskId: payload.taskId,
    runId: payload.runId,
    logicalDate: new Date(payload.logicalDate),
    interval: { start: new Date(payload.intervalStart), end: new Date(payload.intervalEnd) },
    tryNumber: payload.tryNumber,
    mapIndex: payload.mapIndex ?? -1,
    maxTries: payload.maxTries,
    // Resolved and checked against the DAG's params spec by whoever created the run.
    params: payload.params as TaskContext['params'],
    conf: payload.conf,
    // Only a dataset-triggered run's: any other run's conf is a person's or an event's, which must not pass for them.
    triggeringEvents: payload.runType === 'dataset_triggered' ? triggeringEventsOf(payload.conf) : [],
    log: logger,
    signal: channel.signal,
    async pull<R>(ref: TaskHandle<R>): Promise<R> {
      if (typeof ref !== 'object' || ref === null || typeof ref.id !== 'string') {
        throw new TypeError(
          `ctx.pull() expects a task reference (what t.task() returned), got ${ref === null ? 'null' : typeof ref}`,
        );
      }
      if (ref.dagId !== dagId)
        throw new Error(`ctx.pull(): task '${ref.id}' belongs to the DAG '${ref.dagId}', not to '${dagId}'`);
      if (Object.hasOwn(upstreamResults, ref.id)) return upstreamResults[ref.id] as R;
      return (await channel.ask({ kind: 'pull', taskId: ref.id })) as R;
    },
  };
}
