/** The states of a run's task instances (`updraft tasks states`, Airflow's `tasks states-for-dag-run`). */
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { dagVersions, taskInstances } from '../db/schema.js';
import { findRun } from './runs.js';
import { tryVersions, type TryVersion } from './try-versions.js';

export interface TaskStateRow {
  taskId: string;
  /** -1 for a task that is not mapped. */
  mapIndex: number;
  operator: string;
  /** null: none (not decided yet). */
  state: string | null;
  tryNumber: number;
  startedAt: Date | null;
  endedAt: Date | null;
  /** up_for_retry: the next try; up_for_reschedule: the sensor's next poke. */
  nextTryAt: Date | null;
  error: string | null;
  /** The DAG version the latest try ran (its number, as the DAG page shows it); null before the first try. */
  dagVersion: number | null;
  /** Every try so far with the DAG version it ran. */
  tries: TryVersion[];
}

/** The run's task instances (`runId` as `runs list` shows it, or 'latest'), by task id then map index. */
export async function taskStates(
  db: Db,
  dagId: string,
  runId: string,
): Promise<{ runId: string; tasks: TaskStateRow[] }> {
  const run = await findRun(db, dagId, runId);
  const rows = await db
    .select({
      id: taskInstances.id,
      taskId: taskInstances.taskId,
      mapIndex: taskInstances.mapIndex,
      operator: taskInstances.operator,
      state: taskInstances.state,
      tryNumber: taskInstances.tryNumber,
      startedAt: taskInstances.startedAt,
      endedAt: taskInstances.endedAt,
      nextTryAt: taskInstances.nextTryAt,
      error: taskInstances.error,
      dagVersion: dagVersions.version,
    })
    .from(taskInstances)
    .leftJoin(dagVersions, eq(dagVersions.id, taskInstances.dagVersionId))
    .where(eq(taskInstances.runId, run.id))
    .orderBy(asc(taskInstances.taskId), asc(taskInstances.mapIndex));
  const tries = await tryVersions(db, { runRowId: run.id });
  return { runId: run.runId, tasks: rows.map(({ id, ...row }) => ({ ...row, tries: tries.get(id) ?? [] })) };
}
