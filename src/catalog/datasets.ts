/**
 * Reads of datasets for the UI, the API and the CLI (docs/datasets.md): which tasks update
 * each dataset, which DAGs are scheduled on it, and its events with the runs they triggered.
 * Links are those of active DAGs: a DAG whose file is gone no longer produces or consumes.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, toDate } from '../db/execute.js';
import type { DatasetWhen } from '../dag/datasets.js';

export interface DatasetSummary {
  uri: string;
  createdAt: Date;
  /** When an event was last recorded (or the dataset first declared). */
  updatedAt: Date;
  /** Tasks that update it, as dag and task ids. */
  producers: { dagId: string; taskId: string }[];
  /** DAGs scheduled on it, with their condition. */
  consumers: { dagId: string; when: DatasetWhen }[];
  lastEventAt: Date | null;
  events: number;
}

export interface DatasetEventRow {
  id: number;
  uri: string;
  createdAt: Date;
  sourceDagId: string;
  sourceRunId: string;
  sourceTaskId: string;
  sourceTryNumber: number;
  extra: Record<string, unknown>;
  /** The dataset-triggered runs that consumed the event. */
  triggeredRuns: { dagId: string; runId: string }[];
  /** Events matching the filter, on every page. */
  total: number;
}

/** Every dataset by URI, with its links and last event. */
export async function listDatasets(db: Db, filter: { uri?: string } = {}): Promise<DatasetSummary[]> {
  const { rows } = await execute<{
    uri: string;
    created_at: Date | string;
    updated_at: Date | string;
    producers: { dagId: string; taskId: string }[];
    consumers: { dagId: string; when: DatasetWhen }[];
    last_event_at: Date | string | null;
    events: number | string;
  }>(
    db,
    sql`select ds.uri, ds.created_at, ds.updated_at,
               coalesce((select json_agg(json_build_object('dagId', d.dag_id, 'taskId', r.task_id) order by d.dag_id, r.task_id)
                           from task_outlet_dataset_refs r join dags d on d.id = r.dag_id and d.is_active
                          where r.dataset_id = ds.id), '[]') as producers,
               coalesce((select json_agg(json_build_object('dagId', d.dag_id, 'when', coalesce(d.dataset_schedule ->> 'when', 'all')) order by d.dag_id)
                           from dag_schedule_dataset_refs r join dags d on d.id = r.dag_id and d.is_active
                          where r.dataset_id = ds.id), '[]') as consumers,
               (select max(e.created_at) from dataset_events e where e.dataset_id = ds.id) as last_event_at,
               (select count(*) from dataset_events e where e.dataset_id = ds.id) as events
          from datasets ds
         where ${filter.uri === undefined ? sql`true` : sql`ds.uri = ${filter.uri}`}
         order by ds.uri`,
  );
  return rows.map((r) => ({
    uri: r.uri,
    createdAt: toDate(r.created_at),
    updatedAt: toDate(r.updated_at),
    producers: r.producers,
    consumers: r.consumers,
    lastEventAt: toDate(r.last_event_at),
    events: Number(r.events),
  }));
}

export interface EventFilter {
  uri?: string;
  /** Only the events that triggered this run (dag_runs.id). */
  runRowId?: string;
  /** Only events produced by this DAG. */
  sourceDagId?: string;
  limit?: number;
  offset?: number;
}

/** Dataset events, newest first, with the runs they triggered. */
export async function listDatasetEvents(db: Db, filter: EventFilter = {}): Promise<DatasetEventRow[]> {
  const conditions = [sql`true`];
  if (filter.uri !== undefined) conditions.push(sql`ds.uri = ${filter.uri}`);
  if (filter.sourceDagId !== undefined) conditions.push(sql`e.source_dag_id = ${filter.sourceDagId}`);
  if (filter.runRowId !== undefined)
    conditions.push(sql`e.id in (select event_id from dag_run_dataset_events where run_id = ${filter.runRowId})`);
  const { rows } = await execute<{
    id: number | string;
    uri: string;
    created_at: Date | string;
    source_dag_id: string;
    source_run_id: string;
    source_task_id: string;
    source_try_number: number;
    extra: Record<string, unknown>;
    triggered: { dagId: string; runId: string }[];
    total: number | string;
  }>(
    db,
    sql`select e.id, ds.uri, e.created_at, e.source_dag_id, e.source_run_id, e.source_task_id, e.source_try_number, e.extra,
               coalesce((select json_agg(json_build_object('dagId', d.dag_id, 'runId', r.run_id) order by r.logical_date)
                           from dag_run_dataset_events l join dag_runs r on r.id = l.run_id join dags d on d.id = r.dag_id
                          where l.event_id = e.id), '[]') as triggered,
               count(*) over () as total
          from dataset_events e join datasets ds on ds.id = e.dataset_id
         where ${sql.join(conditions, sql` and `)}
         order by e.id desc
         limit ${filter.limit ?? 100} offset ${filter.offset ?? 0}`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    uri: r.uri,
    createdAt: toDate(r.created_at),
    sourceDagId: r.source_dag_id,
    sourceRunId: r.source_run_id,
    sourceTaskId: r.source_task_id,
    sourceTryNumber: r.source_try_number,
    extra: r.extra,
    triggeredRuns: r.triggered,
    total: Number(r.total),
  }));
}
