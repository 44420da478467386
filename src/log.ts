import { pino, type Logger } from 'pino';

/** The process logger (JSON lines on stderr; UPDRAFT_LOG_LEVEL sets the level). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination(2));
}

export type { Logger };
