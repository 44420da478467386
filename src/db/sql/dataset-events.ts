import { sql } from 'drizzle-orm';
import { execute, jsonb, type Executor } from '../execute.js';

/** One dataset a successful try updated. */
export interface OutletUpdate {
  uri: string;
  taskInstanceId: string;
  taskId: string;
  tryNumber: number;
}

/**
 * Records one dataset event per updated dataset and queues it for every DAG scheduled on
 * that dataset (dataset_dag_run_queue), in one statement inside the completion's
 * transaction: an event exists exactly when the success it reports does. Returns how many
 * events were recorded. Only called when a succeeded task has outlets, so DAGs without
 * datasets pay nothing (test/integration/engine-statements.test.ts).
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: one event, by the primary
 * keys of task_instances, dag_runs and dags, median 0.3-0.6 ms on 5 fresh databases.)
 */
export async function recordDatasetEvents(tx: Executor, updates: readonly OutletUpdate[]): Promise<number> {
  if (updates.length === 0) return 0;
  const { rows } = await execute<{ events: number }>(
    tx,
    sql`with v as (
          select * from jsonb_to_recordset(${jsonb(updates.map((u) => ({ uri: u.uri, ti: u.taskInstanceId, task_id: u.taskId, try_number: u.tryNumber })))})
            as v(uri text, ti uuid, task_id text, try_number int)
        ), ds as (
          -- "do update" returns existing rows too, and stamps when the dataset was last updated.
          insert into datasets (uri) select distinct uri from v
          on conflict (uri) do update set updated_at = now()
          returning id, uri
        ), ev as (
          insert into dataset_events (dataset_id, source_dag_id, source_run_id, source_task_id, source_try_number)
          select ds.id, d.dag_id, r.run_id, v.task_id, v.try_number
            from v join ds on ds.uri = v.uri
                   join task_instances ti on ti.id = v.ti join dag_runs r on r.id = ti.run_id join dags d on d.id = r.dag_id
          returning id, dataset_id
        ), queued as (
          insert into dataset_dag_run_queue (dag_id, event_id, dataset_id)
          select ref.dag_id, ev.id, ev.dataset_id from ev join dag_schedule_dataset_refs ref on ref.dataset_id = ev.dataset_id
          on conflict do nothing
        )
        select count(*)::int as events from ev`,
  );
  return Number(rows[0]?.events ?? 0);
}
