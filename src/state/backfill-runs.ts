/** The run transitions a backfill makes: taking an existing run over, and ending its queued runs on cancel. */
import { sql } from 'drizzle-orm';
import { execute, jsonb, type Tx } from '../db/execute.js';

/**
 * The run (cleared already) becomes the backfill's: its limit, its place behind other work,
 * and its conf when one was given. Queued again even when it had no task instance to clear:
 * starting it creates them.
 */
export async function adoptRunForBackfill(
  tx: Tx,
  runRowId: string,
  backfillId: number,
  conf: Record<string, unknown>,
): Promise<void> {
  await execute(
    tx,
    sql`update dag_runs
           set backfill_id = ${backfillId}, conf = case when ${jsonb(conf)} = '{}'::jsonb then conf else ${jsonb(conf)} end,
               state = 'queued', queued_at = case when state = 'queued' then queued_at else now() end, ended_at = null
         where id = ${runRowId}`,
  );
  await execute(tx, sql`update task_instances set backfill = true where run_id = ${runRowId}`);
}

/**
 * A cancelled backfill's queued runs fail, their task instances not yet started skipped:
 * with the backfill's own state change, so a cancel cut short leaves none of them queued.
 */
export async function endQueuedBackfillRuns(tx: Tx, backfillId: number): Promise<void> {
  await execute(
    tx,
    sql`with ended as (
          update dag_runs set state = 'failed', ended_at = now() where backfill_id = ${backfillId} and state = 'queued' returning id
        )
        update task_instances set state = 'skipped', ended_at = now(), updated_at = now()
         where run_id in (select id from ended) and (state is null or state = 'scheduled')`,
  );
}
