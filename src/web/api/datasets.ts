/**
 * /datasets and /datasets/events: Airflow 2's dataset resources, simplified (docs/datasets.md).
 * A dataset lists the tasks that update it and the DAGs scheduled on it; an event, the
 * task try that recorded it and the runs it triggered.
 */
import { z } from 'zod';
import { listDatasetEvents, listDatasets, type DatasetEventRow } from '../../catalog/datasets.js';
import { NotFoundError } from '../../errors.js';
import { collection, iso, Text, isoOrNull, paging, responseSchemas, Timestamp } from './common.js';
import { defineRoute } from './route.js';

const Dataset = z
  .object({
    uri: z.string(),
    created_at: Timestamp,
    updated_at: Timestamp.describe('When an event was last recorded, or the dataset first declared'),
    producing_tasks: z
      .array(z.object({ dag_id: z.string(), task_id: z.string() }))
      .describe('Tasks whose outlets name the dataset'),
    consuming_dags: z
      .array(z.object({ dag_id: z.string(), when: z.enum(['all', 'any']) }))
      .describe('DAGs scheduled on the dataset'),
    last_event_at: Timestamp.nullable(),
    event_count: z.int().min(0),
  })
  .register(responseSchemas, { id: 'Dataset' });

const DatasetEvent = z
  .object({
    id: z.int(),
    dataset_uri: z.string(),
    timestamp: Timestamp,
    source_dag_id: z.string(),
    source_run_id: z.string(),
    source_task_id: z.string(),
    source_try_number: z.int(),
    extra: z.record(z.string(), z.unknown()),
    created_dagruns: z
      .array(z.object({ dag_id: z.string(), dag_run_id: z.string() }))
      .describe('Dataset-triggered runs that consumed the event'),
  })
  .register(responseSchemas, { id: 'DatasetEvent' });

const toEvent = (e: DatasetEventRow): z.input<typeof DatasetEvent> => ({
  id: e.id,
  dataset_uri: e.uri,
  timestamp: iso(e.createdAt),
  source_dag_id: e.sourceDagId,
  source_run_id: e.sourceRunId,
  source_task_id: e.sourceTaskId,
  source_try_number: e.sourceTryNumber,
  extra: e.extra,
  created_dagruns: e.triggeredRuns.map((r) => ({ dag_id: r.dagId, dag_run_id: r.runId })),
});

export const datasetRoutes = [
  defineRoute({
    method: 'get',
    path: '/datasets',
    operationId: 'get_datasets',
    summary: 'List datasets with the tasks that update them and the DAGs scheduled on them',
    tag: 'Dataset',
    query: z.strictObject({ ...paging, uri: Text.optional().describe('Only the dataset with this URI') }),
    response: collection('datasets', Dataset, 'DatasetCollection'),
    async handler({ db, query }) {
      const all = await listDatasets(db, { uri: query.uri });
      return {
        datasets: all.slice(query.offset, query.offset + query.limit).map((d) => ({
          uri: d.uri,
          created_at: iso(d.createdAt),
          updated_at: iso(d.updatedAt),
          producing_tasks: d.producers.map((p) => ({ dag_id: p.dagId, task_id: p.taskId })),
          consuming_dags: d.consumers.map((c) => ({ dag_id: c.dagId, when: c.when })),
          last_event_at: isoOrNull(d.lastEventAt),
          event_count: d.events,
        })),
        total_entries: all.length,
      };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/datasets/events',
    operationId: 'get_dataset_events',
    summary: 'List dataset events, newest first',
    tag: 'Dataset',
    query: z.strictObject({
      ...paging,
      uri: Text.optional().describe("Only this dataset's events"),
      source_dag_id: Text.optional().describe('Only events recorded by tasks of this DAG'),
    }),
    response: collection('dataset_events', DatasetEvent, 'DatasetEventCollection'),
    errors: [404],
    async handler({ db, query }) {
      if (query.uri !== undefined && (await listDatasets(db, { uri: query.uri })).length === 0)
        throw new NotFoundError(`no dataset '${query.uri}'`);
      const events = await listDatasetEvents(db, {
        uri: query.uri,
        sourceDagId: query.source_dag_id,
        limit: query.limit,
        offset: query.offset,
      });
      return { dataset_events: events.map(toEvent), total_entries: events[0]?.total ?? 0 };
    },
  }),
];
