/**
 * The durable side of callbacks (docs/callbacks.md): ends decided where no task thread
 * is at hand (the scheduler's reaper failing or retrying a lost task, and the run that
 * ends with it) queue their callbacks in callback_requests, in the transaction that
 * decides the end; executors take them with SKIP LOCKED and run them. Only tasks and
 * DAGs that have the callback get a row.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb, type Tx } from '../db/execute.js';
import { CALLBACK_OPTION, eventOfState } from '../dag/callbacks.js';
import type { DagCache } from './dag-cache.js';
import type { CompletionReport, TaskResult } from './complete-tries.js';

/** Queues the callbacks of accepted results and of the runs they ended; returns how many. */
export async function queueCallbackRequests(
  tx: Tx,
  cache: DagCache,
  kept: readonly TaskResult[],
  finishedRuns: CompletionReport['finishedRuns'],
): Promise<number> {
  const rows: Record<string, unknown>[] = [];
  const versionOfRun = new Map<string, string>();
  for (const r of kept) {
    versionOfRun.set(r.runRowId, r.versionId);
    const event = eventOfState(r.state);
    const structure = await cache.get(r.versionId, tx);
    if (!event || !structure.tasks.get(r.taskId)?.callbacks?.includes(event)) continue;
    rows.push({
      run_id: r.runRowId,
      ti: r.taskInstanceId,
      try_number: r.tryNumber,
      callback: CALLBACK_OPTION[event],
      state: r.state,
      error: r.error ?? null,
      next_try_at: r.nextTryAt ?? null,
    });
  }
  for (const f of finishedRuns) {
    const structure = await cache.get(versionOfRun.get(f.runRowId)!, tx);
    const event = f.state === 'success' ? 'success' : 'failure';
    if (!structure.serialized.runCallbacks?.includes(event)) continue;
    rows.push({
      run_id: f.runRowId,
      ti: null,
      try_number: null,
      callback: CALLBACK_OPTION[event],
      state: f.state,
      error: null,
      next_try_at: null,
    });
  }
  if (rows.length === 0) return 0;
  await execute(
    tx,
    sql`insert into callback_requests (run_id, task_instance_id, try_number, callback, state, error, next_try_at)
        select v.run_id, v.ti, v.try_number, v.callback, v.state, v.error, v.next_try_at
          from jsonb_to_recordset(${jsonb(rows)}) as v(run_id uuid, ti uuid, try_number int, callback text, state text, error text, next_try_at timestamptz)`,
  );
  return rows.length;
}

/** A queued callback as an executor takes it, with what running it needs. */
export type CallbackRequest = {
  run_row_id: string;
  /** Null: the run's callback. */
  task_instance_id: string | null;
  try_number: number | null;
  callback: 'onSuccess' | 'onFailure' | 'onRetry';
  state: string;
  error: string | null;
  next_try_at: Date | null;
  run_id: string;
  dag_version_id: string;
  logical_date: Date;
  interval_start: Date;
  interval_end: Date;
  conf: Record<string, unknown>;
  task_id: string | null;
  max_tries: number | null;
};

/**
 * Takes (deletes) up to `limit` queued callbacks, oldest first; other executors skip the
 * locked ones. At most once: a process that dies while running one loses it.
 */
export async function takeCallbackRequests(db: Db, limit: number): Promise<CallbackRequest[]> {
  const { rows } = await execute<CallbackRequest>(
    db,
    sql`with taken as (
          delete from callback_requests
           where id in (select id from callback_requests order by created_at limit ${limit} for update skip locked)
          returning *
        )
        select t.run_id as run_row_id, t.task_instance_id, t.try_number, t.callback, t.state, t.error, t.next_try_at,
               r.run_id, r.dag_version_id, r.logical_date, r.interval_start, r.interval_end, r.conf, ti.task_id, ti.max_tries
          from taken t join dag_runs r on r.id = t.run_id left join task_instances ti on ti.id = t.task_instance_id
         order by t.created_at`,
  );
  return rows;
}
