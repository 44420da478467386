/**
 * Thrown from a task to end it without the usual failure handling. Detected by name
 * and brand, so that they work when a DAG file loads its own copy of 'updraft'.
 */
const SIGNAL = Symbol.for('updraft.signal');

/** Ends the task as skipped; downstream tasks see a skipped upstream (trigger rules decide). */
export class SkipTask extends Error {
  readonly [SIGNAL] = 'skip';
  constructor(reason = 'skipped by the task') {
    super(reason);
    this.name = 'SkipTask';
  }
}

/** Fails the task at once, without the retries it has left. */
export class FailTask extends Error {
  readonly [SIGNAL] = 'fail';
  constructor(reason: string) {
    super(reason);
    this.name = 'FailTask';
  }
}

/** 'skip', 'fail' or undefined for an ordinary error. */
export function signalOf(error: unknown): 'skip' | 'fail' | undefined {
  const tag = (error as Record<symbol, unknown> | null)?.[SIGNAL];
  return tag === 'skip' || tag === 'fail' ? tag : undefined;
}
