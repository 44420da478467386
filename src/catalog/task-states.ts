/** The states of a run's task instances (`updraft tasks states`, Airflow's `tasks states-for-dag-run`). */
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { taskInstances } from '../db/schema.js';
import { findRun } from './runs.js';

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
}

/** The run's task instances (`runId` as `runs list` shows it, or 'latest'), by task id then map index. */
export async function taskStates(db: Db, dagId: string, runId: string): Promise<{ runId: string; tasks: TaskStateRow[] }> {
  const run = await findRun(db, dagId, runId);
  const tasks = await db
    .select({
      taskId: taskInstances.taskId,
      mapIndex: taskInstances.mapIndex,
      operator: taskInstances.operator,
      state: taskInstances.state,
      tryNumber: taskInstances.tryNumber,
      startedAt: taskInstances.startedAt,
      endedAt: taskInstances.endedAt,
      nextTryAt: taskInstances.nextTryAt,
      error: taskInstances.error,
    })
    .from(taskInstances)
    .where(eq(taskInstances.runId, run.id))
    .orderBy(asc(taskInstances.taskId), asc(taskInstances.mapIndex));
  return { runId: run.runId, tasks };
}
