/** The states of a run's task instances (`updraft tasks states`, Airflow's `tasks states-for-dag-run`). */
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { taskInstances } from '../db/schema.js';
import { findRun } from './runs.js';

export interface TaskStateRow {
  taskId: string;
  operator: string;
  /** null: none (not decided yet). */
  state: string | null;
  tryNumber: number;
  startedAt: Date | null;
  endedAt: Date | null;
  /** up_for_retry: the next try; up_for_reschedule: the sensor's next poke. */
  nextTryAt: Date | null;
}

export async function taskStates(db: Db, dagId: string, runId: string): Promise<{ runId: string; tasks: TaskStateRow[] }> {
  const run = await findRun(db, dagId, runId);
  const tasks = await db
    .select({
      taskId: taskInstances.taskId,
      operator: taskInstances.operator,
      state: taskInstances.state,
      tryNumber: taskInstances.tryNumber,
      startedAt: taskInstances.startedAt,
      endedAt: taskInstances.endedAt,
      nextTryAt: taskInstances.nextTryAt,
    })
    .from(taskInstances)
    .where(eq(taskInstances.runId, run.id))
    .orderBy(asc(taskInstances.createdAt), asc(taskInstances.taskId));
  return { runId: run.runId, tasks };
}
