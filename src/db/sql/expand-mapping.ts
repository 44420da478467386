/** The statements of dynamic task mapping (src/state/expand-mapping.ts). */
import { sql } from 'drizzle-orm';
import { execute, type Tx } from '../execute.js';

/**
 * Turns a mapped task's placeholder (map_index -1, state none) into instances 0..count-1,
 * scheduled, in one statement whatever the count: the placeholder becomes instance 0 and
 * copies of it are 1..n-1 (generate_series), so a 1,000-item expansion is one round trip.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 100 items, the placeholder
 * found by an index scan of task_instances_unfinished_idx or the run's unique key, median 2.7-4.4
 * ms on 5 fresh databases.)
 */
export async function expandPlaceholder(tx: Tx, runRowId: string, taskId: string, count: number): Promise<void> {
  await execute(
    tx,
    sql`with first as (
          update task_instances set map_index = 0, state = 'scheduled', scheduled_at = now(), updated_at = now()
           where run_id = ${runRowId} and task_id = ${taskId} and map_index = -1 and state is null
          returning run_id, dag_id, task_id, max_tries, priority, pool, queue, operator, backfill, scheduled_at
        )
        insert into task_instances (run_id, dag_id, task_id, map_index, state, max_tries, priority, pool, queue, operator, backfill, scheduled_at)
        select f.run_id, f.dag_id, f.task_id, i, 'scheduled', f.max_tries, f.priority, f.pool, f.queue, f.operator, f.backfill, f.scheduled_at
          from first f, generate_series(1, ${count - 1}::int) as i`,
  );
}

/**
 * Fails a mapped task's placeholder that cannot expand, with the reason as its error.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: an index scan of
 * task_instances_unfinished_idx or the run's unique key, median 0.06-0.18 ms on 5 fresh databases.)
 */
export async function failPlaceholder(tx: Tx, runRowId: string, taskId: string, error: string): Promise<void> {
  await execute(
    tx,
    sql`update task_instances set state = 'failed', error = ${error}, ended_at = now(), updated_at = now()
         where run_id = ${runRowId} and task_id = ${taskId} and map_index = -1 and state is null`,
  );
}
