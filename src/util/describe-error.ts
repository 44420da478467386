/**
 * Telling what an error was, in one line, and whether it came from the database: the
 * SQLSTATE, lost connections, drizzle's query error unwrapped (drizzle wraps driver errors,
 * node-postgres and PGlite alike, with the driver's error on `cause`). Here below db/
 * because the process logger (src/log.ts) uses it for every error it logs; db/errors.ts
 * re-exports it with the SQLSTATE rules Updraft reacts to.
 */
import { DrizzleQueryError } from 'drizzle-orm';

/** The PostgreSQL SQLSTATE of `err` or of an error in its `cause` chain, or undefined. */
export function pgErrorCode(err: unknown): string | undefined {
  // A short walk: drizzle nests one level, but callers may wrap again in an UpdraftError.
  for (let e: unknown = err, depth = 0; e != null && depth < 5; depth++) {
    if (typeof e !== 'object') return undefined;
    // Both drivers' server errors carry a severity; that keeps a Node code such as EPIPE out.
    const { code, severity } = e as { code?: unknown; severity?: unknown };
    if (typeof code === 'string' && typeof severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * node-postgres's own messages for a connection it lost or gave up on: the socket closed
 * ("Connection terminated unexpectedly", "... due to connection timeout"), a statement on a
 * client whose connection already failed ("Client has encountered a connection error and
 * is not queryable", typically drizzle's rollback after a restart), no answer within
 * query_timeout ("Query read timeout", a partition), a connect past its timeout.
 */
const CONNECTION_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error|Query read timeout|timeout expired$|timeout exceeded when trying to connect)/;

/**
 * SQLSTATEs that end the session rather than refuse a statement: class 08 (connection
 * exception), 57P01-57P03 (shutdown, crash, cannot connect now), 57P05 (idle session
 * timeout) and 25P03 (idle_in_transaction_session_timeout: the server ended a session that
 * stalled inside a transaction, and rolled the transaction back).
 */
function endsSession(code: string): boolean {
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '57P05', '25P03'].includes(code);
}

/**
 * True when `err` says the database could not be reached or dropped the connection (a
 * restart, a network fault, a session limit), not that it refused a statement: a
 * session-ending SQLSTATE, a socket error, or node-postgres's own connection messages.
 * What was running is retried on a fresh connection, not reported as a failure.
 */
export function isConnectionError(err: unknown): boolean {
  const code = pgErrorCode(err);
  if (code !== undefined) return endsSession(code);
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    const errno = (e as NodeJS.ErrnoException).code;
    if ((errno && CONNECTION_CODES.has(errno)) || CONNECTION_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/**
 * One line for any error, never with the SQL text and parameters that drizzle puts in its
 * message (they may hold a run's conf or a task's result): drizzle's query error is
 * replaced by what the driver said, as `database error <SQLSTATE>: <message>` when the
 * server answered, else the driver's message ("Connection terminated unexpectedly").
 * A wrapper's message that repeats drizzle's keeps its own words, with the driver's in
 * place of drizzle's.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err).split('\n')[0]!;
  const wrapped = drizzleQueryError(err);
  if (wrapped) {
    const driver = describeDriverError(wrapped.cause);
    const message = err.message
      .replace(wrapped.message, () => driver)
      .replace(wrapped.message.split('\n')[0]!, () => driver);
    return err === wrapped ? driver : message.split('\n')[0]!;
  }
  return describeDriverError(err);
}

/**
 * describeError of a database error (a SQLSTATE, drizzle's query error, a lost
 * connection): what the CLI, logs and /health show. Undefined for any other error.
 */
export function describeDatabaseError(err: unknown): string | undefined {
  return isDatabaseError(err) ? describeError(err) : undefined;
}

/** True when `err` came from the database or its driver rather than from Updraft's own code. */
export function isDatabaseError(err: unknown): boolean {
  return (
    pgErrorCode(err) !== undefined ||
    (err instanceof Error && drizzleQueryError(err) !== undefined) ||
    isConnectionError(err)
  );
}

function drizzleQueryError(err: Error): DrizzleQueryError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    if (e instanceof DrizzleQueryError) return e;
  }
  return undefined;
}

function describeDriverError(err: unknown): string {
  const code = pgErrorCode(err);
  if (code !== undefined) {
    let server: unknown = err;
    while (server instanceof Error && server.cause instanceof Error) server = server.cause;
    return `database error ${code}: ${(server as Error).message.split('\n')[0]}`;
  }
  if (err instanceof Error) return err.message.split('\n')[0]!;
  return err === undefined ? 'unknown database error' : String(err).split('\n')[0]!;
}
