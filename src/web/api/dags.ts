/**
 * /dags: the DAG list (one query: the page, its total and each DAG's latest scheduled
 * interval through a lateral probe of dag_runs' (dag_id, logical_date) index), one DAG
 * with its params, and pausing.
 */
import { describeEvents, type EventsSpec } from '../../dag/events.js';
import { and, arrayOverlaps, asc, count, desc, eq, ilike, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { setPaused } from '../../state/pause.js';
import type { Db } from '../../db/client.js';
import { dagRuns, dags, dagVersions } from '../../db/schema.js';
import { PARAM_TYPES, type ParamsSpec } from '../../dag/types.js';
import { NotFoundError } from '../../errors.js';
import { nextDagRunInfo } from '../../schedule/index.js';
import type { DatasetSchedule, DatasetWhen } from '../../dag/datasets.js';
import {
  collection,
  containing,
  Text,
  isoOrNull,
  listParam,
  orderParam,
  paging,
  requestSchemas,
  responseSchemas,
  Timestamp,
  totalOf,
} from './common.js';
import { defineRoute } from './route.js';

export const Dag = z
  .object({
    dag_id: z.string(),
    description: z.string().nullable(),
    fileloc: z.string().describe('The DAG file, relative to the DAGs folder'),
    is_paused: z.boolean(),
    is_active: z.boolean().describe('False once no file defines the DAG any more'),
    owners: z.array(z.string()),
    tags: z.array(z.object({ name: z.string() })),
    schedule: z
      .string()
      .nullable()
      .describe('Cron expression or preset; null: manual runs only, or scheduled on datasets'),
    dataset_schedule: z
      .object({ datasets: z.array(z.string()), when: z.enum(['all', 'any']) })
      .nullable()
      .describe('Set when the DAG runs on dataset updates (docs/datasets.md)'),
    timezone: z.string(),
    max_active_runs: z.int(),
    max_active_tasks: z.int(),
    dag_version: z.int().nullable().describe('Version of the latest parse (increases when the DAG changes)'),
    last_parsed_time: Timestamp.nullable(),
    next_dagrun: Timestamp.nullable().describe(
      'Logical date of the next scheduled run; null for manual-only or finished schedules',
    ),
    next_dagrun_data_interval_start: Timestamp.nullable(),
    next_dagrun_data_interval_end: Timestamp.nullable(),
    next_dagrun_create_after: Timestamp.nullable().describe('When the next scheduled run becomes due'),
  })
  .register(responseSchemas, { id: 'DAG' });

const Param = z.object({
  type: z.enum(PARAM_TYPES),
  default: z.unknown().optional(),
  description: z.string().optional(),
  enum: z.array(z.unknown()).optional(),
});

export const DagDetail = Dag.extend({
  start_date: Timestamp.nullable(),
  end_date: Timestamp.nullable(),
  catchup: z.boolean(),
  params: z.record(z.string(), Param).describe("What a run's conf is checked against"),
  events: z
    .string()
    .nullable()
    .describe('The event trigger, e.g. "on NOTIFY app_db/new_orders"; null without one (docs/event-triggers.md)'),
}).register(responseSchemas, { id: 'DAGDetail' });

const DagCollection = collection('dags', Dag, 'DAGCollection');

const DagPatch = z
  .strictObject({ is_paused: z.boolean() })
  .register(requestSchemas, { id: 'DAGPatch', description: 'Pause or unpause; recorded in the audit log' });

export const DagPath = z.strictObject({ dag_id: Text });

const ListQuery = z.strictObject({
  ...paging,
  tags: listParam('DAGs having any of these tags (repeat the parameter or separate with commas)'),
  dag_id_pattern: Text.optional().describe('DAGs whose id contains this text (case-insensitive)'),
  paused: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .describe('Only paused (true) or unpaused (false) DAGs'),
  only_active: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true')
    .describe('Leave out DAGs whose file is gone (default true)'),
  order_by: orderParam(['dag_id'], 'dag_id'),
});

const serialized = (path: string) => sql<string | null>`${dagVersions.serialized}->>${path}`;

/** The latest scheduled run's interval: where the schedule goes on from. */
function lastScheduled(db: Db) {
  return db
    .select({ start: dagRuns.intervalStart, end: dagRuns.intervalEnd })
    .from(dagRuns)
    .where(and(eq(dagRuns.dagId, dags.id), eq(dagRuns.runType, 'scheduled')))
    .orderBy(desc(dagRuns.logicalDate))
    .limit(1)
    .as('last_scheduled');
}

/** DAGs with what the API shows of them, `total` being the count of every row the filter keeps. */
function selectDags(db: Db, where: SQL | undefined) {
  const last = lastScheduled(db);
  return db
    .select({
      dag: dags,
      version: dagVersions.version,
      startDate: serialized('startDate'),
      endDate: serialized('endDate'),
      catchup: sql<boolean>`coalesce((${dagVersions.serialized}->>'catchup')::boolean, false)`,
      params: sql<ParamsSpec>`${dagVersions.serialized}->'params'`.mapWith(dagVersions.serialized),
      events: sql<EventsSpec | null>`${dagVersions.serialized}->'events'`.mapWith(dagVersions.serialized),
      lastStart: last.start,
      lastEnd: last.end,
      total: sql<number>`count(*) over ()`.mapWith(Number),
    })
    .from(dags)
    .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
    .leftJoinLateral(last, sql`true`)
    .where(where);
}

function datasetScheduleOf(stored: unknown): { datasets: string[]; when: DatasetWhen } | null {
  const s = stored as DatasetSchedule | null;
  return s ? { datasets: s.uris, when: s.when } : null;
}

type DagSelectRow = Awaited<ReturnType<typeof selectDags>>[number];

function toDag(row: DagSelectRow, now: Date): z.input<typeof Dag> {
  const { dag } = row;
  const spec = {
    schedule: dag.schedule,
    timezone: dag.timezone,
    startDate: row.startDate ? new Date(row.startDate) : null,
    endDate: row.endDate ? new Date(row.endDate) : null,
    catchup: row.catchup,
  };
  const last = row.lastStart && row.lastEnd ? { start: row.lastStart, end: row.lastEnd } : null;
  const next = dag.isActive ? nextDagRunInfo(spec, last, now) : null;
  return {
    dag_id: dag.dagId,
    description: dag.description,
    fileloc: dag.file,
    is_paused: dag.isPaused,
    is_active: dag.isActive,
    owners: dag.owner ? [dag.owner] : [],
    tags: dag.tags.map((name) => ({ name })),
    schedule: dag.schedule,
    dataset_schedule: datasetScheduleOf(dag.datasetSchedule),
    timezone: dag.timezone,
    max_active_runs: dag.maxActiveRuns,
    max_active_tasks: dag.maxActiveTasks,
    dag_version: row.version,
    last_parsed_time: isoOrNull(dag.lastParsedAt),
    next_dagrun: isoOrNull(next?.logicalDate ?? null),
    next_dagrun_data_interval_start: isoOrNull(next?.interval.start ?? null),
    next_dagrun_data_interval_end: isoOrNull(next?.interval.end ?? null),
    next_dagrun_create_after: isoOrNull(next?.runAfter ?? null),
  };
}

/** One DAG as GET /dags/{dag_id} shows it; NotFoundError names the id. */
export async function dagDetail(db: Db, dagId: string): Promise<z.input<typeof DagDetail>> {
  const [row] = await selectDags(db, eq(dags.dagId, dagId));
  if (!row) throw new NotFoundError(`no DAG with id '${dagId}'`);
  return {
    ...toDag(row, new Date()),
    start_date: row.startDate ? new Date(row.startDate).toISOString() : null,
    end_date: row.endDate ? new Date(row.endDate).toISOString() : null,
    catchup: row.catchup,
    params: (row.params ?? {}) as z.input<typeof DagDetail>['params'],
    events: row.events ? describeEvents(row.events as EventsSpec) : null,
  };
}

export const dagRoutes = [
  defineRoute({
    method: 'get',
    path: '/dags',
    operationId: 'get_dags',
    summary: 'List DAGs',
    tag: 'DAG',
    query: ListQuery,
    response: DagCollection,
    async handler({ db, query }) {
      const where = and(
        query.only_active ? eq(dags.isActive, true) : undefined,
        query.paused === undefined ? undefined : eq(dags.isPaused, query.paused),
        query.tags?.length ? arrayOverlaps(dags.tags, query.tags) : undefined,
        query.dag_id_pattern ? ilike(dags.dagId, containing(query.dag_id_pattern)) : undefined,
      );
      const rows = await selectDags(db, where)
        .orderBy(query.order_by.descending ? desc(dags.dagId) : asc(dags.dagId))
        .limit(query.limit)
        .offset(query.offset);
      const total = await totalOf(rows, query.offset, async () => {
        const [r] = await db
          .select({ n: count() })
          .from(dags)
          .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
          .where(where);
        return r?.n ?? 0;
      });
      const now = new Date();
      return { dags: rows.map((row) => toDag(row, now)), total_entries: total };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/dags/{dag_id}',
    operationId: 'get_dag',
    summary: 'One DAG, with its params and schedule bounds',
    tag: 'DAG',
    params: DagPath,
    response: DagDetail,
    errors: [404],
    handler: ({ db, params }) => dagDetail(db, params.dag_id),
  }),
  defineRoute({
    method: 'patch',
    path: '/dags/{dag_id}',
    operationId: 'patch_dag',
    summary: 'Pause or unpause a DAG',
    tag: 'DAG',
    params: DagPath,
    body: DagPatch,
    response: DagDetail,
    errors: [404],
    async handler({ db, params, body, actor }) {
      await setPaused(db, params.dag_id, body.is_paused, actor());
      return dagDetail(db, params.dag_id);
    },
  }),
];
