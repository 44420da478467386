import type { TaskSettings } from '../dag/options.js';

/**
 * When the next try may start after try `tryNumber` failed: retryDelay, doubled
 * after each failed try with retryBackoff, never more than maxRetryDelay.
 */
export function retryDelayMs(
  settings: Pick<TaskSettings, 'retryDelayMs' | 'retryBackoff' | 'maxRetryDelayMs'>,
  tryNumber: number,
): number {
  const delay = settings.retryBackoff ? settings.retryDelayMs * 2 ** Math.max(0, tryNumber - 1) : settings.retryDelayMs;
  return Math.min(delay, settings.maxRetryDelayMs);
}

/** True while the task has tries left after try `tryNumber` (maxTries counts every try). */
export function hasTriesLeft(tryNumber: number, maxTries: number): boolean {
  return tryNumber < maxTries;
}
