/**
 * /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances: a run's task instances, in task id
 * order along the (run_id, task_id, map_index) unique index, and one of them.
 */
import { and, asc, count, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { dagRuns, dags, taskInstances } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import {
  collection,
  intParam,
  Text,
  iso,
  isoOrNull,
  listParam,
  paging,
  responseSchemas,
  Timestamp,
  totalOf,
} from './common.js';
import { defineRoute } from './route.js';
import { RunPath, runRowId } from './runs.js';
import { TASK_STATES } from '../../state/vocabulary.js';

export const TaskInstance = z
  .object({
    dag_id: z.string(),
    dag_run_id: z.string(),
    task_id: z.string(),
    map_index: z.int(),
    logical_date: Timestamp,
    state: z.enum(TASK_STATES).nullable().describe('Null: not yet considered by the scheduler (Airflow\'s "none")'),
    try_number: z.int().describe('Tries started so far'),
    max_tries: z.int(),
    operator: z.string(),
    pool: z.string(),
    queue: z.string(),
    priority_weight: z.int(),
    hostname: z.string().nullable().describe('The worker holding or last holding the task'),
    scheduled_when: Timestamp.nullable(),
    queued_when: Timestamp.nullable(),
    start_date: Timestamp.nullable(),
    end_date: Timestamp.nullable(),
    duration: z.number().nullable().describe('Seconds from start to end of the latest try'),
    next_try_at: Timestamp.nullable().describe(
      'When an up_for_retry task may run again, or an up_for_reschedule sensor pokes again',
    ),
    error: z.string().nullable().describe("The latest try's failure"),
  })
  .register(responseSchemas, { id: 'TaskInstance' });

const TaskInstanceCollection = collection('task_instances', TaskInstance, 'TaskInstanceCollection');

export const TaskPath = RunPath.extend({ task_id: Text });

const ListQuery = z.strictObject({
  ...paging,
  map_index: intParam(-1).optional().describe('Only the instances with this map index (-1: tasks that are not mapped)'),
  state: listParam(
    "Task instances in any of these states; 'none' for those not yet considered (repeat or separate with commas)",
    [...TASK_STATES, 'none'],
  ),
});

/** Task instances with their DAG's and run's ids, selected by the ids the API's paths use. */
function selectTaskInstances(db: Db, dagId: string, runId: string, where?: SQL) {
  return db
    .select({
      ti: taskInstances,
      dagId: dags.dagId,
      runId: dagRuns.runId,
      logicalDate: dagRuns.logicalDate,
      total: sql<number>`count(*) over ()`.mapWith(Number),
    })
    .from(taskInstances)
    .innerJoin(dagRuns, eq(dagRuns.id, taskInstances.runId))
    .innerJoin(dags, eq(dags.id, dagRuns.dagId))
    .where(and(eq(dags.dagId, dagId), eq(dagRuns.runId, runId), where));
}

function toTaskInstance({
  ti,
  dagId,
  runId,
  logicalDate,
}: Awaited<ReturnType<typeof selectTaskInstances>>[number]): z.input<typeof TaskInstance> {
  return {
    dag_id: dagId,
    dag_run_id: runId,
    task_id: ti.taskId,
    map_index: ti.mapIndex,
    logical_date: iso(logicalDate),
    state: ti.state,
    try_number: ti.tryNumber,
    max_tries: ti.maxTries,
    operator: ti.operator,
    pool: ti.pool,
    queue: ti.queue,
    priority_weight: ti.priority,
    hostname: ti.owner,
    scheduled_when: isoOrNull(ti.scheduledAt),
    queued_when: isoOrNull(ti.queuedAt),
    start_date: isoOrNull(ti.startedAt),
    end_date: isoOrNull(ti.endedAt),
    duration: ti.startedAt && ti.endedAt ? (ti.endedAt.getTime() - ti.startedAt.getTime()) / 1000 : null,
    next_try_at: isoOrNull(ti.nextTryAt),
    error: ti.error,
  };
}

/** The task instance's row id; NotFoundError names the DAG, the run or the task, whichever is missing. */
export async function taskInstanceRowId(
  db: Db,
  dagId: string,
  runId: string,
  taskId: string,
  mapIndex = -1,
): Promise<string> {
  const run = await runRowId(db, dagId, runId);
  const rows = await db
    .select({ id: taskInstances.id, mapIndex: taskInstances.mapIndex })
    .from(taskInstances)
    .where(and(eq(taskInstances.runId, run), eq(taskInstances.taskId, taskId)));
  const ti = rows.find((r) => r.mapIndex === mapIndex);
  if (!ti) throw new NotFoundError(missingInstance(dagId, runId, taskId, mapIndex, rows.length));
  return ti.id;
}

/** NotFoundError unless the run has the task (any map index). */
export async function assertTaskInRun(db: Db, dagId: string, runId: string, taskId: string): Promise<void> {
  const run = await runRowId(db, dagId, runId);
  const [ti] = await db
    .select({ id: taskInstances.id })
    .from(taskInstances)
    .where(and(eq(taskInstances.runId, run), eq(taskInstances.taskId, taskId)))
    .limit(1);
  if (!ti) throw new NotFoundError(`run '${runId}' of DAG '${dagId}' has no task '${taskId}'`);
}

/** Why a task instance is not there; a mapped task's message says which indexes exist. */
function missingInstance(dagId: string, runId: string, taskId: string, mapIndex: number, instances: number): string {
  if (instances === 0) return `run '${runId}' of DAG '${dagId}' has no task '${taskId}'`;
  if (mapIndex === -1)
    return `task '${taskId}' of run '${runId}' is mapped into ${instances} instances: add a map index to the path (.../taskInstances/${taskId}/0)`;
  return `task '${taskId}' of run '${runId}' has no map index ${mapIndex}${instances > 1 || mapIndex >= 0 ? ` (it has ${instances} instances)` : ': it is not mapped'}`;
}

/** One task instance by task id and map index (-1: not mapped). */
async function oneTaskInstance(
  db: Db,
  params: { dag_id: string; dag_run_id: string; task_id: string },
  mapIndex: number,
) {
  const [row] = await selectTaskInstances(
    db,
    params.dag_id,
    params.dag_run_id,
    and(eq(taskInstances.taskId, params.task_id), eq(taskInstances.mapIndex, mapIndex)),
  );
  if (!row) {
    await taskInstanceRowId(db, params.dag_id, params.dag_run_id, params.task_id, mapIndex);
    throw new NotFoundError(`run '${params.dag_run_id}' of DAG '${params.dag_id}' has no task '${params.task_id}'`);
  }
  return toTaskInstance(row);
}

export const taskInstanceRoutes = [
  defineRoute({
    method: 'get',
    path: '/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances',
    operationId: 'get_task_instances',
    summary: "List a run's task instances",
    tag: 'TaskInstance',
    params: RunPath,
    query: ListQuery,
    response: TaskInstanceCollection,
    errors: [404],
    async handler({ db, params, query }) {
      const states = query.state?.filter((s) => s !== 'none') ?? [];
      const where = and(
        query.state?.length
          ? or(
              states.length > 0 ? inArray(taskInstances.state, states) : undefined,
              query.state.includes('none') ? isNull(taskInstances.state) : undefined,
            )
          : undefined,
        query.map_index === undefined ? undefined : eq(taskInstances.mapIndex, query.map_index),
      );
      const rows = await selectTaskInstances(db, params.dag_id, params.dag_run_id, where)
        .orderBy(asc(taskInstances.taskId), asc(taskInstances.mapIndex))
        .limit(query.limit)
        .offset(query.offset);
      // An empty page: is the DAG or the run unknown (404), or are there just no matches?
      if (rows.length === 0) await runRowId(db, params.dag_id, params.dag_run_id);
      const total = await totalOf(rows, query.offset, async () => {
        const [r] = await db
          .select({ n: count() })
          .from(taskInstances)
          .innerJoin(dagRuns, eq(dagRuns.id, taskInstances.runId))
          .innerJoin(dags, eq(dags.id, dagRuns.dagId))
          .where(and(eq(dags.dagId, params.dag_id), eq(dagRuns.runId, params.dag_run_id), where));
        return r?.n ?? 0;
      });
      return { task_instances: rows.map(toTaskInstance), total_entries: total };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}',
    operationId: 'get_task_instance',
    summary: 'One task instance',
    tag: 'TaskInstance',
    params: TaskPath,
    response: TaskInstance,
    errors: [404],
    async handler({ db, params }) {
      return oneTaskInstance(db, params, -1);
    },
  }),
];

/**
 * One instance of a mapped task (Airflow's get_mapped_task_instance). Mounted after the
 * XCom routes: '.../{task_id}/xcomEntries' must not be read as a map index.
 */
export const mappedTaskInstanceRoutes = [
  defineRoute({
    method: 'get',
    path: '/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}',
    operationId: 'get_mapped_task_instance',
    summary: 'One instance of a mapped task',
    tag: 'TaskInstance',
    params: TaskPath.extend({
      map_index: intParam(-1).describe('The instance index; -1 for a task that is not mapped'),
    }),
    response: TaskInstance,
    errors: [404],
    async handler({ db, params }) {
      return oneTaskInstance(db, params, params.map_index);
    },
  }),
];
