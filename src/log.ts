import { pino, type Logger } from 'pino';
import { describeError, isDatabaseError, pgErrorCode } from './util/describe-error.js';

/**
 * The process logger (JSON lines on stderr; UPDRAFT_LOG_LEVEL sets the level). An `err`
 * that is a database error is logged as errorFields does, whoever logs it.
 */
export function createLogger(level: string): Logger {
  const err = (error: unknown) =>
    isDatabaseError(error)
      ? { message: describeError(error), code: pgErrorCode(error) }
      : pino.stdSerializers.err(error as Error);
  return pino({ level, base: { pid: process.pid }, serializers: { err } }, pino.destination(2));
}

/**
 * The fields that log an error beside describeError(error) as the message: a database
 * error by its SQLSTATE alone, never drizzle's SQL text and parameters (they may hold a
 * run's conf or a task's result) nor a stack (it is not a fault of Updraft's code); any
 * other error whole, with its stack.
 */
export function errorFields(error: unknown): { code?: string } | { err: unknown } {
  if (!isDatabaseError(error)) return { err: error };
  const code = pgErrorCode(error);
  return code ? { code } : {};
}

export type { Logger };
