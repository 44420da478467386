/** Driver errors of a sync as OperatorErrors that name the field whose table or query failed. */
import { pgMessage } from '../../db/errors.js';
import { fieldError, isTransient } from '../pg.js';
import { OperatorError } from '../types.js';

/**
 * `fieldError` for the sync, plus the row and column a COPY stopped at ("COPY orders,
 * line 3, column amount: "abc""): the one clue that finds a bad value among millions.
 */
export function syncError(field: string, error: unknown): Error {
  const where = (error as { where?: unknown } | undefined)?.where;
  if (error instanceof OperatorError || typeof where !== 'string' || !where.startsWith('COPY '))
    return fieldError('sync', field, error);
  return new OperatorError('sync', field, `${pgMessage(error)} (${where.split('\n')[0]})`, isTransient(error), {
    cause: error,
  });
}

/** Runs `fn`; a failure is reported against `field`. */
export async function step<T>(field: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw syncError(field, error);
  }
}
