/**
 * What the run and task instance pages read: a run with its DAG's serialized form (task
 * order, params) and its task instances, one task instance with its XCom. NotFoundError
 * names whichever of DAG, run or task is missing; the pages show it as a 404.
 */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../../db/client.js';
import { dagRuns, dagVersions, taskInstances, xcom, type DagRunRow, type TaskInstanceRow } from '../../../db/schema.js';
import { findDagRow } from '../../../catalog/dags.js';
import { listDatasetEvents, type DatasetEventRow } from '../../../catalog/datasets.js';
import { resolveParams } from '../../../dag/params.js';
import type { SerializedDag } from '../../../dag/serialize.js';
import { NotFoundError } from '../../../errors.js';

export interface RunView {
  dagId: string;
  timezone: string;
  run: DagRunRow;
  version: number | null;
  /** The run's task instances in the DAG's task order; a mapped task's instances by map index. */
  tasks: TaskInstanceRow[];
  /** The conf resolved against the DAG's params, or the raw conf when it no longer resolves. */
  params: Record<string, unknown>;
  paramsError: string | null;
  /** The dataset events a dataset_triggered run was created for (docs/datasets.md); empty for other runs. */
  triggeringEvents: DatasetEventRow[];
}

export async function loadRun(db: Db, dagId: string, runId: string): Promise<RunView> {
  const dag = await findDagRow(db, dagId);
  if (!dag) throw new NotFoundError(`no DAG with id '${dagId}'`);
  const [row] = await db
    .select({ run: dagRuns, version: dagVersions.version, serialized: dagVersions.serialized })
    .from(dagRuns)
    .leftJoin(dagVersions, eq(dagVersions.id, dagRuns.dagVersionId))
    .where(and(eq(dagRuns.dagId, dag.id), eq(dagRuns.runId, runId)));
  if (!row) throw new NotFoundError(`DAG '${dagId}' has no run '${runId}'`);
  const serialized = row.serialized as SerializedDag | null;
  const order = new Map((serialized?.tasks ?? []).map((t, i) => [t.id, i]));
  const tasks = (
    await db
      .select()
      .from(taskInstances)
      .where(eq(taskInstances.runId, row.run.id))
      .orderBy(asc(taskInstances.taskId), asc(taskInstances.mapIndex))
  ).sort((a, b) => (order.get(a.taskId) ?? Infinity) - (order.get(b.taskId) ?? Infinity) || a.mapIndex - b.mapIndex);
  const conf = row.run.conf as Record<string, unknown>;
  let params: Record<string, unknown> = conf;
  let paramsError: string | null = null;
  try {
    params = { ...conf, ...resolveParams(serialized?.params ?? {}, conf) };
  } catch (error) {
    paramsError = (error as Error).message;
  }
  const triggeringEvents =
    row.run.runType === 'dataset_triggered' ? await listDatasetEvents(db, { runRowId: row.run.id }) : [];
  return {
    dagId,
    timezone: dag.timezone,
    run: row.run,
    version: row.version,
    tasks,
    params,
    paramsError,
    triggeringEvents,
  };
}

export interface TaskView extends RunView {
  ti: TaskInstanceRow;
  /** Its XCom entries by key (the result under 'return_value'). */
  xcom: { key: string; value: unknown; createdAt: Date }[];
}

/** One task instance; `mapIndex` picks a mapped task's instance (default: the task's only or first one). */
export async function loadTask(
  db: Db,
  dagId: string,
  runId: string,
  taskId: string,
  mapIndex?: number,
): Promise<TaskView> {
  const view = await loadRun(db, dagId, runId);
  const all = view.tasks.filter((t) => t.taskId === taskId);
  const ti = mapIndex === undefined ? all[0] : all.find((t) => t.mapIndex === mapIndex);
  if (!ti)
    throw new NotFoundError(
      all.length > 0
        ? `task '${taskId}' of run '${runId}' has no map index ${mapIndex} (it has ${all.length} instances)`
        : `run '${runId}' of DAG '${dagId}' has no task '${taskId}'`,
    );
  const entries = await db
    .select({ key: xcom.key, value: xcom.value, createdAt: xcom.createdAt })
    .from(xcom)
    .where(eq(xcom.taskInstanceId, ti.id))
    .orderBy(asc(xcom.key));
  return { ...view, ti, xcom: entries };
}
