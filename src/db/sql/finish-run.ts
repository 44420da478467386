/**
 * The statements that end a run: "is anything of it unfinished, is anything moving", "did a
 * leaf fail", and the end itself (src/state/finish-run.ts decides between them).
 */
import { sql } from 'drizzle-orm';
import { FAILED_TASK_STATES, type FinishedRunState, stateList, unfinishedPredicate } from '../../state/vocabulary.js';
import { execute, jsonb, type Tx } from '../execute.js';

/**
 * Unfinished task instances, word for word the predicate of the partial index
 * task_instances_unfinished_idx (src/db/schema.ts): the planner uses the index only for
 * a query that repeats it. It names the finished states, so up_for_reschedule is in it.
 * (EXPLAIN ANALYZE on PostgreSQL 15, 100,000 task instances of which 3 unfinished, custom
 * and generic plans: both of runProgress's probes scan task_instances_unfinished_idx,
 * `moving` filtering `state is not null`; 0.05 ms.)
 */
export const UNFINISHED_SQL = sql.raw(`(${unfinishedPredicate('state')})`);

/**
 * Whether any task instance of the run is unfinished, and whether any unfinished one has a
 * state (scheduled, queued, running, up_for_retry or up_for_reschedule: it moves on by
 * itself). One statement, two index probes, never the whole run.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: both probe
 * task_instances_unfinished_idx, median 0.02-0.04 ms on 5 fresh databases.)
 */
export async function runProgress(tx: Tx, runRowId: string): Promise<{ unfinished: boolean; moving: boolean }> {
  const { rows } = await execute<{ unfinished: boolean; moving: boolean }>(
    tx,
    sql`select exists (select 1 from task_instances where run_id = ${runRowId} and ${UNFINISHED_SQL}) as unfinished,
               exists (select 1 from task_instances where run_id = ${runRowId} and ${UNFINISHED_SQL} and state is not null) as moving`,
  );
  return rows[0]!;
}

/**
 * Whether one of `leaves` ended failed or upstream_failed in the run.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: a bitmap scan of
 * task_instances_run_id_task_id_map_index_key, median 0.11-0.19 ms on 5 fresh databases.)
 */
export async function leafFailed(tx: Tx, runRowId: string, leaves: Iterable<string>): Promise<boolean> {
  const { rows } = await execute<{ failed: boolean }>(
    tx,
    sql`select exists (select 1 from task_instances where run_id = ${runRowId} and state in ${sql.raw(stateList(FAILED_TASK_STATES))}
                          and task_id in (select jsonb_array_elements_text(${jsonb([...leaves])}))) as failed`,
  );
  return rows[0]!.failed;
}

/**
 * Ends a running run; returns the run id users see, read back when the run had been ended
 * already (by hand), for the log line.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: by dag_runs_pkey, median
 * 0.06-0.10 ms on 5 fresh databases.)
 */
export async function endRun(tx: Tx, runRowId: string, state: FinishedRunState): Promise<string> {
  const { rows: ended } = await execute<{ run_id: string }>(
    tx,
    sql`update dag_runs set state = ${state}, ended_at = now() where id = ${runRowId} and state = 'running' returning run_id`,
  );
  return (
    ended[0]?.run_id ??
    (await execute<{ run_id: string }>(tx, sql`select run_id from dag_runs where id = ${runRowId}`)).rows[0]!.run_id
  );
}

/** Every task instance's state in the run (a mapped task's instances each). */
export async function runTaskStates<S extends string>(
  tx: Tx,
  runRowId: string,
): Promise<{ task_id: string; state: S | null }[]> {
  const { rows } = await execute<{ task_id: string; state: S | null }>(
    tx,
    sql`select task_id, state from task_instances where run_id = ${runRowId}`,
  );
  return rows;
}
