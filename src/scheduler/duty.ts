import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, type Tx } from '../db/execute.js';

/** Advisory lock keys of the duties one scheduler at a time does for all. */
export const Duty = {
  createRuns: 0x75706463, // 'updc'
  reap: 0x75706472, // 'updr'
} as const;

/**
 * Runs `work` as the one scheduler doing `duty` right now, or returns undefined at once
 * when another scheduler holds it (it will have done the work; this one tries again at
 * its next pass). The duty is a transaction-level advisory lock, so it ends with the
 * holder's transaction: a scheduler that dies (kill -9, lost host) drops it when
 * PostgreSQL sees its connection close, and one that hangs inside the transaction is
 * cut off by PostgreSQL within the session's idle_in_transaction_session_timeout (a few
 * seconds, src/db/session-limits.ts). Another scheduler takes the duty over at its next
 * pass (UPDRAFT_SCHEDULER_POLL_INTERVAL at the latest).
 */
export async function asSoleScheduler<T>(db: Db, duty: number, work: (tx: Tx) => Promise<T>): Promise<T | undefined> {
  return db.transaction(async (tx) => {
    const { rows } = await execute<{ held: boolean }>(tx, sql`select pg_try_advisory_xact_lock(${duty}) as held`);
    return rows[0]?.held ? work(tx) : undefined;
  });
}
