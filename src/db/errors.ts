/**
 * The database's errors: the SQLSTATEs Updraft reacts to and what they mean for a caller
 * (retry, conflict, a refused value), and a driver error as one line. Describing any error
 * (describeError, pgErrorCode, isConnectionError) is in util/describe-error.ts, below the
 * logger, and re-exported here.
 */
import { describeDatabaseError, pgErrorCode } from '../util/describe-error.js';
import { redact } from '../util/mask.js';

export {
  describeDatabaseError,
  describeError,
  isConnectionError,
  isDatabaseError,
  pgErrorCode,
} from '../util/describe-error.js';

/** Well-known SQLSTATE codes Updraft reacts to. */
export const SqlState = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
} as const;

/**
 * True when a statement gave way to another session and trying again is the remedy: a
 * lock wait past lock_timeout (55P03), a statement past statement_timeout or cancelled
 * (57014), a serialization failure (40001) or a deadlock (40P01). Not a fault of the
 * database nor of the statement.
 */
export function isContentionError(err: unknown): boolean {
  const code = pgErrorCode(err);
  return (
    code === SqlState.lockNotAvailable ||
    code === SqlState.queryCanceled ||
    code === SqlState.serializationFailure ||
    code === SqlState.deadlockDetected
  );
}

/** True when `err` is a unique violation (SQLSTATE 23505), e.g. a second run for the same logical date. */
export function isUniqueViolation(err: unknown): boolean {
  return pgErrorCode(err) === SqlState.uniqueViolation;
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

/** A driver error as one line: the message, its detail and hint, secrets scrubbed. */
export function pgMessage(error: unknown): string {
  if (!(error instanceof Error)) return redact(String(error));
  const e = error as Error & { code?: string; detail?: string; hint?: string; errors?: Error[] };
  // node's AggregateError (connecting to several addresses) has an empty message.
  let message = e.message || e.errors?.map((x) => x.message).join('; ') || e.code || 'unknown error';
  if (e.detail) message += ` (${e.detail})`;
  if (e.hint) message += ` hint: ${e.hint}`;
  return redact(message);
}
