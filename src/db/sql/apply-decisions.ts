import { sql } from 'drizzle-orm';
import { execute, jsonb, type Tx } from '../execute.js';

/**
 * Writes trigger-rule decisions (scheduled, skipped, upstream_failed) of a run's task
 * instances still in state none, all in one statement: a fan-out of 100 downstream tasks is
 * one round trip, not 100 (test/integration/engine-statements.test.ts counts it as one of a
 * chain task's statements). `ti.state is null` fences it: a task decided meanwhile by another
 * process, or marked by hand, is left alone.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 10 decisions through
 * task_instances_unfinished_idx, median 0.21-0.35 ms on 5 fresh databases.)
 */
export async function writeDecisions(
  tx: Tx,
  runRowId: string,
  decisions: readonly { taskId: string; state: string }[],
): Promise<void> {
  await execute(
    tx,
    sql`update task_instances ti
           set state = u.state::task_state, updated_at = now(),
               scheduled_at = case when u.state = 'scheduled' then now() else ti.scheduled_at end,
               ended_at = case when u.state = 'scheduled' then ti.ended_at else now() end
          from jsonb_to_recordset(${jsonb(decisions.map((u) => ({ task_id: u.taskId, state: u.state })))}) as u(task_id text, state text)
         where ti.run_id = ${runRowId} and ti.task_id = u.task_id and ti.state is null`,
  );
}
