import { sql } from 'drizzle-orm';
import { notify } from '../notify.js';
import { execute, toDate, type Tx } from '../execute.js';

/**
 * Makes up_for_retry tasks whose delay has passed, and up_for_reschedule sensors whose next
 * poke is due, scheduled again (waking executors when any did), and reads when the next one
 * is due. Both statements use task_instances_retry_due_idx, over rows with a next_try_at
 * (`next_try_at <= now()` implies its predicate), so a pass with nothing due costs two index
 * probes however many task instances there are.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances, 170 up_for_retry not yet
 * due: both scan task_instances_retry_due_idx, the second in most plans bitmap-ANDed with
 * task_instances_unfinished_idx; medians 0.01-0.03 ms and 0.05-0.13 ms on 5 fresh databases.)
 */
export async function promoteDue(tx: Tx): Promise<{ promoted: number; nextRetryAt: Date | null }> {
  const { rowCount } = await execute(
    tx,
    sql`update task_instances set state = 'scheduled', scheduled_at = now(), next_try_at = null, updated_at = now()
         where state in ('up_for_retry', 'up_for_reschedule') and next_try_at <= now()`,
  );
  if (rowCount > 0) await notify(tx, 'work');
  const { rows } = await execute<{ next: Date | null }>(
    tx,
    sql`select min(next_try_at) as next from task_instances where next_try_at is not null and state in ('up_for_retry', 'up_for_reschedule')`,
  );
  return { promoted: rowCount, nextRetryAt: toDate(rows[0]?.next ?? null) };
}
