import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb } from '../db/execute.js';
import type { Tx } from '../db/execute.js';
import type { DagCache, DagStructure } from './dag-cache.js';
import { evaluateRun } from './evaluate-run.js';
import { finishRunIfDone, type StateChange } from './finish.js';
import { notify } from '../db/notify.js';

/**
 * One starter at a time, so that two schedulers cannot both see room under maxActiveRuns.
 * Tried, never waited for (like the claim lock, src/db/sql/claim-tasks.ts): a scheduler
 * frozen while it holds the lock queues nobody, and loses it within the session's
 * idle_in_transaction_session_timeout.
 */
const START_LOCK = 0x75706473; // 'upds'

export interface StartedRun {
  id: string;
  dagId: string;
  /** Tasks made ready: the roots of a new run, and its `always` tasks. */
  scheduled: string[];
  /** Every task instance whose state this start decided (the scheduled ones included). */
  changes: StateChange[];
  /** A run started again after a clear may have nothing left to do: it ended at once. */
  finished?: { state: 'success' | 'failed'; runId: string };
}

/**
 * Null when another scheduler is starting runs right now (it holds the start lock): the
 * caller looks again shortly, since that scheduler may have read the queue before a run
 * now waiting in it was committed.
 *
 * Moves queued runs to running, oldest logical date first, within each DAG's (or
 * backfill's) maxActiveRuns, and creates their task instances: roots and `always` tasks
 * scheduled, the rest waiting for their upstream tasks. A run queued again by a clear keeps its task
 * instances: those cleared (state none) are decided by their trigger rules.
 */
export async function startQueuedRuns(db: Db, cache: DagCache, now = new Date()): Promise<StartedRun[] | null> {
  return db.transaction(async (tx) => {
    const { rows: lock } = await execute<{ held: boolean }>(
      tx,
      sql`select pg_try_advisory_xact_lock(${START_LOCK}) as held`,
    );
    if (!lock[0]?.held) return null;
    // Ranked in SQL: only runs that fit under their limit come back, so one DAG's backlog
    // cannot crowd out the others. A DAG's own runs count against its maxActiveRuns and
    // do not start while it is paused; a backfill's runs count against the backfill's
    // maxActiveRuns (whatever the DAG's) and start while the backfill runs, paused DAG
    // or not. Scheduled and manual runs come first (docs/backfill.md).
    // A run of a backfill that has ended (one cleared afterwards) is the DAG's again.
    const { rows } = await execute<{ id: string; dag_version_id: string }>(
      tx,
      sql`with queued as (
            select r.id, r.dag_id, r.dag_version_id, r.logical_date, b.id as backfill_id, b.state as backfill_state, b.max_active_runs as backfill_max
              from dag_runs r left join backfills b on b.id = r.backfill_id and b.state in ('running', 'paused')
             where r.state = 'queued'
          )
          select q.id, q.dag_version_id from (
            select r.id, r.dag_version_id, r.logical_date, r.backfill_id,
                   row_number() over (partition by r.dag_id, r.backfill_id order by r.logical_date, r.id) as rank,
                   case when r.backfill_id is null
                        then d.max_active_runs - (select count(*) from dag_runs x where x.dag_id = r.dag_id and x.state = 'running'
                                                    and not exists (select 1 from backfills y where y.id = x.backfill_id and y.state in ('running', 'paused')))
                        else r.backfill_max - (select count(*) from dag_runs x where x.backfill_id = r.backfill_id and x.state = 'running')
                   end as room
              from queued r join dags d on d.id = r.dag_id
             where case when r.backfill_id is null then not d.is_paused else r.backfill_state = 'running' end
          ) q
          where q.rank <= q.room
          order by q.backfill_id is not null, q.logical_date, q.id
          limit 200`,
    );
    if (rows.length === 0) return [];
    // Locked and checked again: a run cancelled or marked since the read above must not start.
    const { rows: still } = await execute<{ id: string }>(
      tx,
      sql`select id from dag_runs where id in (select (jsonb_array_elements_text(${jsonb(rows.map((r) => r.id))}))::uuid) and state = 'queued' order by id for update`,
    );
    const queued = new Set(still.map((r) => r.id));
    const started: StartedRun[] = [];
    const restarted: { run: StartedRun; structure: DagStructure }[] = [];
    for (const run of rows.filter((r) => queued.has(r.id))) {
      const structure = await cache.get(run.dag_version_id, tx);
      const { scheduled, inserted } = await insertTaskInstances(tx, run.id, structure, now);
      const entry: StartedRun = {
        id: run.id,
        dagId: structure.dagId,
        scheduled,
        changes: scheduled.map((taskId) => ({ runRowId: run.id, taskId, state: 'scheduled' })),
      };
      started.push(entry);
      // Mapped roots wait in state none to be expanded by evaluateRun (src/scheduler/mapping.ts).
      if (inserted < structure.tasks.size || hasMappedRoots(structure)) restarted.push({ run: entry, structure });
    }
    if (started.length > 0) {
      await execute(
        tx,
        sql`update dag_runs set state = 'running', started_at = ${now} where state = 'queued' and id in (select (jsonb_array_elements_text(${jsonb(started.map((r) => r.id))}))::uuid)`,
      );
      for (const { run, structure } of restarted) {
        const changes = await evaluateRun(tx, run.id, structure);
        run.changes.push(...changes);
        run.scheduled.push(...changes.filter((c) => c.state === 'scheduled').map((c) => c.taskId));
        if (run.scheduled.length === 0) run.finished = (await finishRunIfDone(tx, run.id, structure)) ?? undefined;
      }
      // Runs moved to running either way: without work for executors, only live pages hear of it.
      await notify(tx, started.some((r) => r.scheduled.length > 0) ? 'work' : 'state');
    }
    return started;
  });
}

/**
 * Inserts one task instance per task of the run's DAG version; returns the ids of those
 * scheduled (the roots, and the `always` tasks). `queue` puts every task on one queue (`updraft dags test`
 * serves a private one, so no other process takes its tasks).
 */
export async function createTaskInstances(
  tx: Tx,
  runId: string,
  structure: DagStructure,
  now: Date,
  queue?: string,
): Promise<string[]> {
  const { scheduled } = await insertTaskInstances(tx, runId, structure, now, queue);
  if (hasMappedRoots(structure))
    scheduled.push(
      ...(await evaluateRun(tx, runId, structure)).filter((c) => c.state === 'scheduled').map((c) => c.taskId),
    );
  return scheduled;
}

function hasMappedRoots(structure: DagStructure): boolean {
  return structure.roots.some((id) => structure.tasks.get(id)!.mapped);
}

const startersOf = new WeakMap<DagStructure, string[]>();

/**
 * The tasks a new run schedules at once, in the DAG's order: the roots, and the tasks whose
 * trigger rule is `always`, which Airflow gives no dependency at all (they run alongside
 * their upstream tasks). Mapped ones wait to be expanded (src/scheduler/mapping.ts).
 */
function starters(structure: DagStructure): string[] {
  let ids = startersOf.get(structure);
  if (!ids) {
    ids = [...structure.tasks.values()]
      .filter((t) => !t.mapped && (t.upstream.length === 0 || t.triggerRule === 'always'))
      .map((t) => t.id);
    startersOf.set(structure, ids);
  }
  return ids;
}

/** createTaskInstances, also telling how many were new: fewer than the DAG's tasks when the run had some already. */
async function insertTaskInstances(
  tx: Tx | Db,
  runId: string,
  structure: DagStructure,
  now: Date,
  queue?: string,
): Promise<{ scheduled: string[]; inserted: number }> {
  const ready = new Set(starters(structure));
  const tasks = [...structure.tasks.values()].map((t) => ({
    task_id: t.id,
    state: ready.has(t.id) ? 'scheduled' : null,
    max_tries: t.retries + 1,
    priority: t.priority,
    pool: t.pool,
    queue: queue ?? t.queue,
    operator: t.operator,
  }));
  const { rows } = await execute<{ task_id: string; state: string | null }>(
    tx,
    sql`insert into task_instances (run_id, dag_id, task_id, state, max_tries, priority, pool, queue, operator, backfill, scheduled_at)
        select ${runId}::uuid, ${structure.dagRowId}::uuid, t.task_id, t.state::task_state, t.max_tries, t.priority, t.pool, t.queue, t.operator,
               r.backfill_id is not null, case when t.state = 'scheduled' then ${now}::timestamptz end
          from jsonb_to_recordset(${JSON.stringify(tasks)}::jsonb)
               as t(task_id text, state text, max_tries int, priority int, pool text, queue text, operator text),
               dag_runs r
         where r.id = ${runId}::uuid
        on conflict (run_id, task_id, map_index) do nothing
        returning task_id, state`,
  );
  // In the DAG's order.
  const inserted = new Set(rows.filter((r) => r.state === 'scheduled').map((r) => r.task_id));
  return { scheduled: starters(structure).filter((id) => inserted.has(id)), inserted: rows.length };
}
