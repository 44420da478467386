/** Lost tries: those whose worker stopped heartbeating are handed back or ended by their retry policy. */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute } from '../db/execute.js';
import { formatDuration } from '../util/duration.js';
import type { DagCache } from './dag-cache.js';
import { handBackTries } from './tries.js';
import { completeTries, type CompletionReport, type TaskResult } from './complete-tries.js';
import { hasTriesLeft, retryDelayMs } from './retry.js';

/**
 * Takes away the tries whose owner stopped heartbeating for `timeoutMs` (a worker killed,
 * frozen or cut off), so that they do not stay claimed or running forever:
 * - a try still `queued` had not started: it goes back to be claimed again without using
 *   up a try, as a worker's own stop hands it back (a crash costs no more than a SIGTERM);
 * - a `running` try had started: it is failed or retried by its retry policy, through
 *   completeTries, fenced like any other result (a worker that finished meanwhile wins).
 * Ages are read on the database's clock, never this process's. And nothing is taken in the
 * first `timeoutMs` after the database server started: after a restart every heartbeat is
 * old, though the workers are alive and about to beat (and to commit what finished while
 * it was down). That wait is for PostgreSQL only (`serverMayRestart`): the embedded
 * database starts and stops with its one server process, which takes over at once what
 * an earlier process held (src/engine/engine.ts).
 */
export async function reapLostTasks(
  db: Db,
  cache: DagCache,
  timeoutMs: number,
  now = new Date(),
  serverMayRestart = true,
): Promise<(CompletionReport & { handedBack: number }) | null> {
  const { rows } = await execute<{
    id: string;
    lease: string;
    state: string;
    try_number: number;
    max_tries: number;
    run_id: string;
    task_id: string;
    owner: string | null;
    dag_version_id: string;
  }>(
    db,
    sql`select ti.id, ti.lease, ti.state, ti.try_number, ti.max_tries, ti.run_id, ti.task_id, ti.owner, r.dag_version_id
          from task_instances ti join dag_runs r on r.id = ti.run_id
         where ti.state in ('queued', 'running')
           and ti.heartbeat_at < clock_timestamp() - make_interval(secs => ${timeoutMs / 1000})
           and (not ${serverMayRestart}::boolean or pg_postmaster_start_time() < clock_timestamp() - make_interval(secs => ${timeoutMs / 1000}))
         limit 500`,
  );
  if (rows.length === 0) return null;
  const unstarted = rows.filter((row) => row.state === 'queued');
  const handedBack = await handBackTries(db, unstarted, ['queued']);
  const results: TaskResult[] = [];
  for (const row of rows.filter((r) => r.state === 'running')) {
    const task = (await cache.get(row.dag_version_id)).tasks.get(row.task_id);
    const retry = task !== undefined && hasTriesLeft(row.try_number, row.max_tries);
    const message = `no heartbeat from ${row.owner ?? 'its worker'} for ${formatDuration(timeoutMs)}: the worker died or lost the database`;
    results.push({
      taskInstanceId: row.id,
      lease: row.lease,
      tryNumber: row.try_number,
      runRowId: row.run_id,
      taskId: row.task_id,
      versionId: row.dag_version_id,
      state: retry ? 'up_for_retry' : 'failed',
      nextTryAt: retry ? new Date(now.getTime() + retryDelayMs(task, row.try_number)) : undefined,
      error: message,
      logs: [{ level: 'error', message, at: now.getTime() }],
    });
  }
  const report = await completeTries(db, cache, results, undefined, { queueCallbacks: true });
  report.scheduled += handedBack;
  for (const row of unstarted) report.changes.push({ runRowId: row.run_id, taskId: row.task_id, state: 'scheduled' });
  return { ...report, handedBack };
}
