import { sql } from 'drizzle-orm';
import { execute, toDate, type Tx } from '../db/execute.js';
import { TRIGGERING_EVENTS_KEY, type DatasetEventInfo } from '../dag/datasets.js';
import { runValues } from '../state/new-run.js';
import { dagRuns } from '../db/schema.js';
import { notify } from '../db/notify.js';

/**
 * Creates a 'dataset_triggered' run for every active, unpaused DAG scheduled on datasets
 * whose condition holds: 'all' (Airflow's list) when each of its datasets has an event
 * queued since its last dataset-triggered run, 'any' (DatasetAny) when one has. The run
 * consumes the DAG's queued events in the same transaction, and the caller holds the
 * createRuns duty (duty.ts), so two schedulers never make two runs of the same events.
 * A paused DAG's events stay queued, as in Airflow. Costs one statement per pass when no
 * event is queued (an empty dataset_dag_run_queue).
 */
export async function createDatasetRuns(tx: Tx, now: Date): Promise<number> {
  const { rows: ready } = await execute<{ dag_row_id: string; version_id: string }>(
    tx,
    sql`select d.id as dag_row_id, d.latest_version_id as version_id
          from dags d
         where d.id in (select dag_id from dataset_dag_run_queue)
           and d.is_active and not d.is_paused and d.dataset_schedule is not null and d.latest_version_id is not null
           and case when d.dataset_schedule ->> 'when' = 'any'
                    then exists (select 1 from dataset_dag_run_queue q join dag_schedule_dataset_refs r on r.dag_id = q.dag_id and r.dataset_id = q.dataset_id
                                  where q.dag_id = d.id)
                    else not exists (select 1 from dag_schedule_dataset_refs r where r.dag_id = d.id
                                        and not exists (select 1 from dataset_dag_run_queue q where q.dag_id = d.id and q.dataset_id = r.dataset_id))
               end
         order by d.dag_id`,
  );
  let created = 0;
  for (const dag of ready) {
    const { rows: events } = await execute<{
      id: number | string;
      uri: string;
      created_at: Date | string;
      source_dag_id: string;
      source_run_id: string;
      source_task_id: string;
      source_try_number: number;
    }>(
      tx,
      sql`with consumed as (delete from dataset_dag_run_queue where dag_id = ${dag.dag_row_id} returning event_id)
          select e.id, ds.uri, e.created_at, e.source_dag_id, e.source_run_id, e.source_task_id, e.source_try_number
            from dataset_events e join datasets ds on ds.id = e.dataset_id
           where e.id in (select event_id from consumed)
           order by e.created_at, e.id`,
    );
    if (events.length === 0) continue;
    const first = toDate(events[0]!.created_at);
    const last = toDate(events.at(-1)!.created_at);
    // Airflow's DatasetTriggeredTimetable: the interval spans the triggering events, the
    // logical date is the last one. One run per (dag, logical date): step past a run that
    // already has that date (a manual one, or events recorded in the same instant).
    const { rows: taken } = await execute<{ latest: Date | string | null }>(
      tx,
      sql`select max(logical_date) as latest from dag_runs where dag_id = ${dag.dag_row_id} and logical_date >= ${last}`,
    );
    const latest = taken[0]?.latest ? toDate(taken[0].latest) : null;
    const logicalDate = latest ? new Date(latest.getTime() + 1) : last;
    const triggering: DatasetEventInfo[] = events.map((e) => ({
      uri: e.uri,
      at: toDate(e.created_at).toISOString(),
      sourceDagId: e.source_dag_id,
      sourceRunId: e.source_run_id,
      sourceTaskId: e.source_task_id,
      sourceTryNumber: e.source_try_number,
    }));
    const [run] = await tx
      .insert(dagRuns)
      .values(
        runValues(
          dag.dag_row_id,
          dag.version_id,
          'dataset_triggered',
          { logicalDate, interval: { start: first, end: last }, runAfter: now },
          { [TRIGGERING_EVENTS_KEY]: triggering },
        ),
      )
      .returning({ id: dagRuns.id });
    await execute(
      tx,
      sql`insert into dag_run_dataset_events (run_id, event_id)
          select ${run!.id}::uuid, e::bigint from jsonb_array_elements_text(${JSON.stringify(events.map((e) => String(e.id)))}::jsonb) as e`,
    );
    created++;
  }
  if (created > 0) await notify(tx, 'state');
  return created;
}
