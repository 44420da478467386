/**
 * drizzle wraps driver errors (node-postgres and PGlite alike) in its own query error,
 * with the driver's error, and so the SQLSTATE, on `cause`. Unwrap it here, not in every catch.
 */

/** Well-known SQLSTATE codes Updraft reacts to. */
export const SqlState = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
} as const;

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

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * True when `err` says the database could not be reached or dropped the connection (a
 * restart, a network fault), not that it refused a statement: SQLSTATE class 08, the
 * shutdown codes 57P01-57P03, a socket error, or node-postgres's own "Connection
 * terminated". Such errors are retried, not reported as failures of what was running.
 */
export function isConnectionError(err: unknown): boolean {
  const code = pgErrorCode(err);
  if (code !== undefined) return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    const errno = (e as NodeJS.ErrnoException).code;
    if ((errno && CONNECTION_CODES.has(errno)) || /^Connection terminated/.test(e.message)) return true;
  }
  return false;
}

/** True when `err` is a unique violation (SQLSTATE 23505), e.g. a second run for the same logical date. */
export function isUniqueViolation(err: unknown): boolean {
  return pgErrorCode(err) === SqlState.uniqueViolation;
}

/**
 * One line for a database error, without the SQL text and parameters that drizzle puts
 * in its message (they may hold a run's conf or a task's result): what the CLI, logs and
 * /health show. Undefined when `err` is not a database error.
 */
export function describeDatabaseError(err: unknown): string | undefined {
  const code = pgErrorCode(err);
  if (code === undefined) return undefined;
  let server: unknown = err;
  while (server instanceof Error && server.cause instanceof Error) server = server.cause;
  return `database error ${code}: ${(server as Error).message.split('\n')[0]}`;
}

/**
 * True when PostgreSQL refused a value it was given (SQLSTATE class 22: a NUL in text, a
 * number out of range, a date it cannot store). Input checks keep such values out; this is
 * the web server's last resort, answering 400 instead of 500.
 */
export function isDataError(err: unknown): boolean {
  return pgErrorCode(err)?.startsWith('22') ?? false;
}

/** What a request is told (a 400) when PostgreSQL refused one of its values (isDataError); undefined for any other error. */
export function refusedValueMessage(err: unknown): string | undefined {
  return isDataError(err) ? `a value of the request cannot be stored: ${describeDatabaseError(err)}` : undefined;
}
