import { AsyncLocalStorage } from 'node:async_hooks';
import { format } from 'node:util';
import type { LogLevel } from './protocol.js';

/** Where the output of the code running in a context goes. */
export interface LogSink {
  log(level: LogLevel, message: string): void;
}

// AsyncLocalStorage rather than a "current task" variable: work a task leaves behind
// (a timer, an unawaited promise) keeps writing to that task's sink, never to the
// log of whichever task the thread runs next. Its cost on Node 20 (promise hooks in
// the task thread): a no-op try's throughput went from 12,700/s to 10,500/s on 2 threads.
const context = new AsyncLocalStorage<LogSink>();

const METHODS = { log: 'info', info: 'info', warn: 'warn', error: 'error', debug: 'debug' } as const;

/** The thread's console as it was before capture: for output that belongs to no task. */
export const threadConsole = Object.fromEntries(
  Object.keys(METHODS).map((name) => [name, console[name as keyof typeof METHODS].bind(console)]),
) as Record<keyof typeof METHODS, (...args: unknown[]) => void>;

let installed = false;

/** Routes console.log/info/warn/error/debug to the sink of the calling context, once per thread. */
export function captureConsole(): void {
  if (installed) return;
  installed = true;
  for (const [name, level] of Object.entries(METHODS) as [keyof typeof METHODS, LogLevel][]) {
    const original = threadConsole[name];
    console[name] = (...args: unknown[]) => {
      const sink = context.getStore();
      if (sink) sink.log(level, format(...args));
      else original(...args);
    };
  }
}

/** Runs `fn` with console output going to `sink`, including async work it starts. */
export function withSink<T>(sink: LogSink, fn: () => T): T {
  return context.run(sink, fn);
}
