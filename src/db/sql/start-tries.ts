import { sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { execute, jsonb } from '../execute.js';

export interface StartedTry {
  id: string;
  lease: string;
  /** When its thread took it, as the executor saw it. */
  startedAt: Date;
}

/**
 * Shows started tries as running, many per statement (an executor batches the tries its
 * threads took within a few milliseconds). Fenced by lease and by `queued`: a try that was
 * handed back, taken by a scheduler, or whose completion was committed first is left as it
 * is, so this write can never undo a later one. Returns how many rows it changed.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 50 tries, found through a
 * partial index over queued and running rows (task_instances_running_heartbeat_idx or
 * _active_dag_idx, in most plans bitmap-ANDed with task_instances_unfinished_idx), median 1.1-1.9
 * ms on 5 fresh databases.)
 */
export async function markTriesRunning(db: Db, tries: readonly StartedTry[]): Promise<number> {
  const { rowCount } = await execute(
    db,
    sql`update task_instances ti set state = 'running', started_at = v.started_at, updated_at = now()
          from jsonb_to_recordset(${jsonb(tries.map((t) => ({ id: t.id, lease: t.lease, started_at: t.startedAt })))})
               as v(id uuid, lease uuid, started_at timestamptz)
         where ti.id = v.id and ti.lease = v.lease and ti.state = 'queued'`,
  );
  return rowCount;
}
