/**
 * .../taskInstances/{task_id}/xcomEntries: what a task instance stored (its result under
 * 'return_value'); the list leaves the values out, one entry has its value as JSON.
 */
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { dagRuns, dags, taskInstances, xcom } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import { collection, intParam, Text, iso, paging, responseSchemas, Timestamp, totalOf } from './common.js';
import { defineRoute } from './route.js';
import { assertTaskInRun, taskInstanceRowId, TaskPath } from './task-instances.js';

export const XComEntry = z
  .object({
    dag_id: z.string(),
    dag_run_id: z.string(),
    task_id: z.string(),
    map_index: z.int(),
    key: z.string(),
    logical_date: Timestamp,
    timestamp: Timestamp.describe('When it was stored'),
  })
  .register(responseSchemas, { id: 'XComEntry' });

const XComEntryWithValue = XComEntry.extend({ value: z.unknown().describe('The stored JSON value') }).register(
  responseSchemas,
  { id: 'XComEntryWithValue' },
);

const XComCollection = collection('xcom_entries', XComEntry, 'XComCollection');

const MapIndex = {
  map_index: intParam(-1)
    .optional()
    .describe("A mapped task's instance; default: every instance (list), -1 (one entry)"),
};
const ListQuery = z.strictObject({ ...paging, ...MapIndex });
const EntryQuery = z.strictObject({ ...MapIndex });

/** The task instance's entries; their values only when asked for (a list leaves them out). */
function selectXcom(
  db: Db,
  path: z.output<typeof TaskPath>,
  options: { where?: SQL; withValue?: boolean; mapIndex?: number } = {},
) {
  return db
    .select({
      key: xcom.key,
      value: options.withValue ? xcom.value : sql<unknown>`null`,
      createdAt: xcom.createdAt,
      mapIndex: taskInstances.mapIndex,
      logicalDate: dagRuns.logicalDate,
      total: sql<number>`count(*) over ()`.mapWith(Number),
    })
    .from(xcom)
    .innerJoin(taskInstances, eq(taskInstances.id, xcom.taskInstanceId))
    .innerJoin(dagRuns, eq(dagRuns.id, taskInstances.runId))
    .innerJoin(dags, eq(dags.id, dagRuns.dagId))
    .where(
      and(
        eq(dags.dagId, path.dag_id),
        eq(dagRuns.runId, path.dag_run_id),
        eq(taskInstances.taskId, path.task_id),
        options.mapIndex === undefined ? undefined : eq(taskInstances.mapIndex, options.mapIndex),
        options.where,
      ),
    );
}

function toEntry(
  path: z.output<typeof TaskPath>,
  row: Awaited<ReturnType<typeof selectXcom>>[number],
): z.input<typeof XComEntry> {
  return {
    dag_id: path.dag_id,
    dag_run_id: path.dag_run_id,
    task_id: path.task_id,
    map_index: row.mapIndex,
    key: row.key,
    logical_date: iso(row.logicalDate),
    timestamp: iso(row.createdAt),
  };
}

export const xcomRoutes = [
  defineRoute({
    method: 'get',
    path: '/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries',
    operationId: 'get_xcom_entries',
    summary: "List a task instance's XCom entries (without values)",
    tag: 'XCom',
    params: TaskPath,
    query: ListQuery,
    response: XComCollection,
    errors: [404],
    async handler({ db, params, query }) {
      const mapIndex = query.map_index;
      const rows = await selectXcom(db, params, { mapIndex })
        .orderBy(asc(taskInstances.mapIndex), asc(xcom.key))
        .limit(query.limit)
        .offset(query.offset);
      if (rows.length === 0) {
        if (mapIndex === undefined) await assertTaskInRun(db, params.dag_id, params.dag_run_id, params.task_id);
        else await taskInstanceRowId(db, params.dag_id, params.dag_run_id, params.task_id, mapIndex);
      }
      const total = await totalOf(rows, query.offset, async () => (await selectXcom(db, params, { mapIndex })).length);
      return { xcom_entries: rows.map((row) => toEntry(params, row)), total_entries: total };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}',
    operationId: 'get_xcom_entry',
    summary: 'One XCom entry, with its value',
    tag: 'XCom',
    params: TaskPath.extend({ xcom_key: Text }),
    query: EntryQuery,
    response: XComEntryWithValue,
    errors: [404],
    async handler({ db, params, query }) {
      const mapIndex = query.map_index ?? -1;
      const [row] = await selectXcom(db, params, { where: eq(xcom.key, params.xcom_key), withValue: true, mapIndex });
      if (!row) {
        await taskInstanceRowId(db, params.dag_id, params.dag_run_id, params.task_id, mapIndex);
        throw new NotFoundError(
          `task '${params.task_id}' of run '${params.dag_run_id}' has no XCom entry '${params.xcom_key}'`,
        );
      }
      return { ...toEntry(params, row), value: row.value };
    },
  }),
];
