import { sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { execute, jsonb } from '../execute.js';
import type { HeldTry } from './hand-back.js';

/**
 * Marks held tries alive and returns the leases it reached: a try missing from them no
 * longer holds its task instance (it finished, was taken, or was revoked).
 *
 * By lease, not by owner: a row the executor does not know it holds (a claim whose reply
 * was lost) must not be kept alive by it; the executor's settleClaims finds such rows.
 * Stamped with clock_timestamp(), the moment of the write. Never waiting for a row lock
 * (SKIP LOCKED): a row locked by another transaction is being finished or taken anyway,
 * and a heartbeat that queued behind a stalled process's locks would let every try of
 * the executor go stale. So it runs beside the executor's other writes, not after them:
 * it cannot deadlock with them.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 50 tries, found through a
 * partial index over queued and running rows (task_instances_running_heartbeat_idx, in most plans
 * bitmap-ANDed with task_instances_unfinished_idx) and task_instances_pkey, median 1.2-2.3 ms on 5
 * fresh databases.)
 */
export async function heartbeatTries(db: Db, tries: readonly HeldTry[]): Promise<Set<string>> {
  const { rows } = await execute<{ lease: string }>(
    db,
    sql`with held as (
          select ti.id from task_instances ti
            join jsonb_to_recordset(${jsonb(tries.map((t) => ({ id: t.id, lease: t.lease })))}) as v(id uuid, lease uuid)
              on ti.id = v.id and ti.lease = v.lease
           where ti.state in ('queued', 'running')
             for update of ti skip locked
        )
        update task_instances ti set heartbeat_at = clock_timestamp() from held where ti.id = held.id returning ti.lease`,
  );
  return new Set(rows.map((r) => r.lease));
}

export interface RevokedTry {
  id: string;
  state: string | null;
  error: string | null;
}

/**
 * Of task instances a heartbeat no longer reached, those whose lease was revoked (set to
 * null by a cancel or a mark; src/state/mark.ts), with the state and error the revoker
 * left: the error carries the reason ('cancelled: <why>'). A plain read: tries that merely
 * finished, or that the reaper handed to a newer try, still have a lease and are not listed.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 50 ids by
 * task_instances_pkey, median 0.15-0.3 ms on 5 fresh databases.)
 */
export async function revokedTries(db: Db, ids: readonly string[]): Promise<RevokedTry[]> {
  const { rows } = await execute<{ id: string; state: string | null; error: string | null }>(
    db,
    sql`select id, state, error from task_instances
         where id in (select value::uuid from jsonb_array_elements_text(${jsonb(ids)})) and lease is null`,
  );
  return rows;
}
