import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb } from '../db/execute.js';
import type { Tx } from '../db/execute.js';
import type { DagCache, DagStructure } from './dag-cache.js';

const START_LOCK = 0x75706473; // 'upds'

export interface StartedRun {
  id: string;
  dagId: string;
  /** Root tasks made ready. */
  scheduled: string[];
}

/**
 * Moves queued runs of unpaused DAGs to running, oldest logical date first, within
 * each DAG's maxActiveRuns, and creates their task instances: roots scheduled, the
 * rest waiting for their upstream tasks.
 */
export async function startQueuedRuns(db: Db, cache: DagCache, now = new Date()): Promise<StartedRun[]> {
  return db.transaction(async (tx) => {
    // One starter at a time, so that two schedulers cannot both see room under maxActiveRuns.
    await execute(tx, sql`select pg_advisory_xact_lock(${START_LOCK})`);
    // Ranked per DAG in SQL: only runs that fit under their DAG's maxActiveRuns come
    // back, so one DAG's backlog of queued runs cannot crowd out the others.
    const { rows } = await execute<{ id: string; dag_version_id: string }>(
      tx,
      sql`select q.id, q.dag_version_id from (
            select r.id, r.dag_version_id, r.logical_date,
                   row_number() over (partition by r.dag_id order by r.logical_date, r.id) as rank,
                   d.max_active_runs - (select count(*) from dag_runs x where x.dag_id = r.dag_id and x.state = 'running') as room
              from dag_runs r join dags d on d.id = r.dag_id
             where r.state = 'queued' and not d.is_paused
          ) q
          where q.rank <= q.room
          order by q.logical_date, q.id
          limit 200`,
    );
    const started: StartedRun[] = [];
    for (const run of rows) {
      const structure = await cache.get(run.dag_version_id, tx);
      const scheduled = await createTaskInstances(tx, run.id, structure, now);
      started.push({ id: run.id, dagId: structure.dagId, scheduled });
    }
    if (started.length > 0) {
      await execute(tx, sql`update dag_runs set state = 'running', started_at = ${now} where state = 'queued' and id in (select (jsonb_array_elements_text(${jsonb(started.map((r) => r.id))}))::uuid)`);
      if (started.some((r) => r.scheduled.length > 0)) await execute(tx, sql`select pg_notify('updraft_work', '')`);
    }
    return started;
  });
}

/**
 * Inserts one task instance per task of the run's DAG version; returns the ids of those
 * scheduled (the roots). `queue` puts every task on one queue (`updraft dags test`
 * serves a private one, so no other process takes its tasks).
 */
export async function createTaskInstances(tx: Tx | Db, runId: string, structure: DagStructure, now: Date, queue?: string): Promise<string[]> {
  const roots = new Set(structure.roots);
  const tasks = [...structure.tasks.values()].map((t) => ({
    task_id: t.id,
    state: roots.has(t.id) ? 'scheduled' : null,
    max_tries: t.retries + 1,
    priority: t.priority,
    pool: t.pool,
    queue: queue ?? t.queue,
    operator: t.operator,
  }));
  await execute(
    tx,
    sql`insert into task_instances (run_id, dag_id, task_id, state, max_tries, priority, pool, queue, operator, scheduled_at)
        select ${runId}::uuid, ${structure.dagRowId}::uuid, t.task_id, t.state::task_state, t.max_tries, t.priority, t.pool, t.queue, t.operator,
               case when t.state = 'scheduled' then ${now}::timestamptz end
          from jsonb_to_recordset(${JSON.stringify(tasks)}::jsonb)
               as t(task_id text, state text, max_tries int, priority int, pool text, queue text, operator text)
        on conflict (run_id, task_id, map_index) do nothing`,
  );
  return structure.roots;
}
