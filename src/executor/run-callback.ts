/**
 * Runs one callback in a task thread (docs/callbacks.md): a task's onSuccess / onFailure /
 * onRetry with the task's context, or a DAG's run onSuccess / onFailure. Like a try it
 * imports the DAG file (the thread's cached module, same version as the try), and like a
 * try it never throws: what the callback throws becomes a 'failed' outcome, which the
 * executor logs. The state it is told about is already decided; nothing here can change it.
 */
import { format } from 'node:util';
import { isDag, type Dag } from '../dag/builder.js';
import { CALLBACK_OPTION, type RunCallbackContext, type RunCallbacks } from '../dag/callbacks.js';
import type { TaskLogger } from '../dag/types.js';
import { failed, failureOf } from './failure.js';
import type { CallbackCall, LogLevel, TaskOutcome, TaskPayload } from './protocol.js';
import { contextOf, importDagFile } from './run-task.js';
import type { ThreadChannel } from './thread-channel.js';

export async function runCallback(
  payload: TaskPayload,
  call: CallbackCall,
  channel: ThreadChannel,
): Promise<TaskOutcome> {
  const { file, dagId } = payload;
  const name = CALLBACK_OPTION[call.event];
  let module: Record<string, unknown>;
  try {
    module = await importDagFile(file, payload.fileVersion);
  } catch (error) {
    return failureOf(error, false, `cannot import the DAG file ${file}: `);
  }
  const dag = Object.values(module).find((value): value is Dag => isDag(value) && value.id === dagId);
  if (!dag) return failed(`the DAG file ${file} no longer defines the DAG '${dagId}'`, false);
  try {
    if (call.kind === 'run') {
      const fn = dag.options.runCallbacks[name as keyof RunCallbacks];
      if (!fn) return failed(`the DAG '${dagId}' (${file}) has no ${name} callback any more`, false);
      await fn(runContext(payload, channel), call.info);
    } else {
      const task = dag.tasks.get(payload.taskId);
      const fn = task?.callbacks[name];
      if (!fn)
        return failed(
          `the task '${payload.taskId}' of DAG '${dagId}' (${file}) has no ${name} callback any more`,
          false,
        );
      const { nextTryAt, ...info } = call.info;
      await fn(
        contextOf(payload, channel),
        nextTryAt === undefined ? info : { ...info, nextTryAt: new Date(nextTryAt) },
      );
    }
  } catch (error) {
    return failureOf(error, false);
  }
  return { status: 'success', result: undefined };
}

function runContext(payload: TaskPayload, channel: ThreadChannel): RunCallbackContext {
  const log =
    (level: LogLevel) =>
    (message: string, ...args: unknown[]) =>
      channel.log(level, format(message, ...args));
  const logger: TaskLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  return {
    dagId: payload.dagId,
    runId: payload.runId,
    logicalDate: new Date(payload.logicalDate),
    interval: { start: new Date(payload.intervalStart), end: new Date(payload.intervalEnd) },
    conf: payload.conf,
    log: logger,
    signal: channel.signal,
  };
}
