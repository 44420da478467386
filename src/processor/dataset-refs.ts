import { sql } from 'drizzle-orm';
import { execute, jsonb, type Tx } from '../db/execute.js';
import type { SerializedDag } from '../dag/serialize.js';

/**
 * Writes which datasets a DAG is scheduled on and which its tasks update, when a DAG's
 * stored version changes, so the datasets page shows the links before any event. One
 * statement for a DAG without datasets (clearing what an earlier version declared and its
 * queued events), two with.
 */
export async function storeDatasetRefs(tx: Tx, dagRowId: string, d: SerializedDag): Promise<void> {
  const refs = [
    ...(d.datasetSchedule?.uris ?? []).map((uri) => ({ uri, task_id: null as string | null })),
    ...d.tasks.flatMap((t) => (t.outlets ?? []).map((uri) => ({ uri, task_id: t.id as string | null }))),
  ];
  // Queued events of datasets the DAG is no longer scheduled on go too: they would start a
  // run at once should it be scheduled on them again, and keep the queue from being empty.
  const scheduled = d.datasetSchedule?.uris ?? [];
  await execute(
    tx,
    sql`with s as (delete from dag_schedule_dataset_refs where dag_id = ${dagRowId}),
             q as (delete from dataset_dag_run_queue where dag_id = ${dagRowId}
                      and dataset_id not in (select id from datasets where uri in (select jsonb_array_elements_text(${jsonb(scheduled)}))))
        delete from task_outlet_dataset_refs where dag_id = ${dagRowId}`,
  );
  if (refs.length === 0) return;
  await execute(
    tx,
    sql`with v as (select * from jsonb_to_recordset(${jsonb(refs)}) as v(uri text, task_id text)),
        ds as (
          insert into datasets (uri) select distinct uri from v
          on conflict (uri) do update set uri = excluded.uri
          returning id, uri
        ), sched as (
          insert into dag_schedule_dataset_refs (dag_id, dataset_id)
          select ${dagRowId}::uuid, ds.id from v join ds on ds.uri = v.uri where v.task_id is null
          on conflict do nothing
        )
        insert into task_outlet_dataset_refs (dag_id, task_id, dataset_id)
        select ${dagRowId}::uuid, v.task_id, ds.id from v join ds on ds.uri = v.uri where v.task_id is not null
        on conflict do nothing`,
  );
}
