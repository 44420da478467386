/** Retries and reschedules coming due: up_for_retry and up_for_reschedule -> scheduled. */
import type { Db } from '../db/client.js';
import { promoteDue } from '../db/sql/promote-retries.js';

/**
 * Makes up_for_retry tasks whose delay has passed, and up_for_reschedule sensors whose
 * next poke is due, ready again, and tells when the next one is due. Those times live
 * in the database, so they survive a restart.
 */
export async function promoteRetries(db: Db): Promise<{ promoted: number; nextRetryAt: Date | null }> {
  return db.transaction((tx) => promoteDue(tx));
}
