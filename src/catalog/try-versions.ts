/**
 * The DAG version each try ran (task_instance_tries, written by the claim): the DAG's
 * latest version when the try started, which a cleared or retried task may have newer
 * than its run's (docs/engine.md). Shown as the version number the DAG page shows.
 */
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { dagVersions, taskInstanceTries, taskInstances } from '../db/schema.js';

export interface TryVersion {
  tryNumber: number;
  /** null: the version is gone, or the try ran before versions were recorded. */
  dagVersion: number | null;
}

/** The tries of one task instance, or of every task instance of a run, by task instance id, in try order. */
export async function tryVersions(
  db: Db,
  of: { taskInstanceId: string } | { runRowId: string },
): Promise<Map<string, TryVersion[]>> {
  const rows = await db
    .select({
      id: taskInstanceTries.taskInstanceId,
      tryNumber: taskInstanceTries.tryNumber,
      dagVersion: dagVersions.version,
    })
    .from(taskInstanceTries)
    .innerJoin(taskInstances, eq(taskInstances.id, taskInstanceTries.taskInstanceId))
    .leftJoin(dagVersions, eq(dagVersions.id, taskInstanceTries.dagVersionId))
    .where(
      'runRowId' in of ? eq(taskInstances.runId, of.runRowId) : eq(taskInstanceTries.taskInstanceId, of.taskInstanceId),
    )
    .orderBy(asc(taskInstanceTries.tryNumber));
  const byInstance = new Map<string, TryVersion[]>();
  for (const { id, ...row } of rows) {
    const tries = byInstance.get(id);
    if (tries) tries.push(row);
    else byInstance.set(id, [row]);
  }
  return byInstance;
}
