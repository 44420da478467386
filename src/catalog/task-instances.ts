/** A run's task instances as the CLI lists them: one row per instance, mapped ones by map index. */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { taskInstances } from '../db/schema.js';
import { dagRow, findRun } from './runs.js';

export interface TaskInstanceSummary {
  taskId: string;
  /** -1 for a task that is not mapped. */
  mapIndex: number;
  state: string | null;
  tryNumber: number;
  startedAt: Date | null;
  endedAt: Date | null;
  error: string | null;
}

/** The run's task instances (`runId` as `runs list` shows it, or 'latest'), by task id then map index. */
export async function runTaskInstances(db: Db, dagId: string, runId: string): Promise<{ runId: string; timezone: string; tasks: TaskInstanceSummary[] }> {
  const { timezone } = await dagRow(db, dagId);
  const run = await findRun(db, dagId, runId);
  const tasks = await db
    .select({
      taskId: taskInstances.taskId,
      mapIndex: taskInstances.mapIndex,
      state: taskInstances.state,
      tryNumber: taskInstances.tryNumber,
      startedAt: taskInstances.startedAt,
      endedAt: taskInstances.endedAt,
      error: taskInstances.error,
    })
    .from(taskInstances)
    .where(and(eq(taskInstances.runId, run.id)))
    .orderBy(asc(taskInstances.taskId), asc(taskInstances.mapIndex));
  return { runId: run.runId, timezone, tasks };
}
