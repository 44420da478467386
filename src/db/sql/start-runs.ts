/**
 * The statements that start runs (src/state/start-runs.ts): the run-start lock, the runs that
 * fit under their limits, their move to running and their task instances.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { execute, jsonb, type Tx } from '../execute.js';

/**
 * One starter at a time, so that two schedulers cannot both see room under maxActiveRuns.
 * Tried, never waited for (like the claim lock, claim-tasks.ts): a scheduler frozen while it
 * holds the lock queues nobody, and loses it within the session's
 * idle_in_transaction_session_timeout.
 */
const START_LOCK = 0x75706473; // 'upds'

/** Takes the run-start lock for the transaction; false when another starter holds it. */
export async function tryStartLock(tx: Tx): Promise<boolean> {
  const { rows } = await execute<{ held: boolean }>(tx, sql`select pg_try_advisory_xact_lock(${START_LOCK}) as held`);
  return rows[0]?.held ?? false;
}

/**
 * Queued runs that fit under their limit, at most 200, ranked in SQL: only runs that fit
 * come back, so one DAG's backlog cannot crowd out the others. A DAG's own runs count
 * against its maxActiveRuns and do not start while it is paused; a backfill's runs count
 * against the backfill's maxActiveRuns (whatever the DAG's) and start while the backfill
 * runs, paused DAG or not. Scheduled and manual runs come first (docs/backfill.md). A run
 * of a backfill that has ended (one cleared afterwards) is the DAG's again.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances, 200 queued runs of 10 DAGs:
 * dag_runs_active_idx and dag_runs_backfill_active_idx, median 1.3-1.9 ms on 5 fresh databases.)
 */
export async function startableRuns(tx: Tx): Promise<{ id: string; dag_version_id: string }[]> {
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
  return rows;
}

/**
 * Locks those of `ids` still queued (in id order) and returns them: a run cancelled or marked since must not start.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 20 runs, a bitmap scan of
 * dag_runs_active_idx, median 0.11-0.20 ms on 5 fresh databases.)
 */
export async function lockQueuedRuns(tx: Tx, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await execute<{ id: string }>(
    tx,
    sql`select id from dag_runs where id in (select (jsonb_array_elements_text(${jsonb(ids)}))::uuid) and state = 'queued' order by id for update`,
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Moves queued runs to running, all in one statement.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 20 runs, a bitmap scan of
 * dag_runs_active_idx, median 0.34-0.72 ms on 5 fresh databases.)
 */
export async function markRunsRunning(tx: Tx, ids: readonly string[], now: Date): Promise<void> {
  await execute(
    tx,
    sql`update dag_runs set state = 'running', started_at = ${now} where state = 'queued' and id in (select (jsonb_array_elements_text(${jsonb(ids)}))::uuid)`,
  );
}

/** A task instance of a new run, as inserted. */
export interface NewTaskInstance {
  task_id: string;
  state: 'scheduled' | null;
  max_tries: number;
  priority: number;
  pool: string;
  queue: string;
  operator: string;
}

/**
 * Inserts a run's task instances in one statement whatever their number (the JSON of
 * 10,000 tasks and its insert are half of the scheduler's 40-60 ms for a 10,000-task run:
 * docs/performance.md). Those the run has already (a run queued again after a clear) are
 * left alone; returns the new ones.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 100 tasks, median 2.9-4.2 ms
 * on 5 fresh databases.)
 */
export async function insertTaskInstanceRows(
  tx: Tx | Db,
  runId: string,
  dagRowId: string,
  tasks: readonly NewTaskInstance[],
  now: Date,
): Promise<{ task_id: string; state: string | null }[]> {
  const { rows } = await execute<{ task_id: string; state: string | null }>(
    tx,
    sql`insert into task_instances (run_id, dag_id, task_id, state, max_tries, priority, pool, queue, operator, backfill, scheduled_at)
      select ${runId}::uuid, ${dagRowId}::uuid, t.task_id, t.state::task_state, t.max_tries, t.priority, t.pool, t.queue, t.operator,
             r.backfill_id is not null, case when t.state = 'scheduled' then ${now}::timestamptz end
        from jsonb_to_recordset(${JSON.stringify(tasks)}::jsonb)
             as t(task_id text, state text, max_tries int, priority int, pool text, queue text, operator text),
             dag_runs r
       where r.id = ${runId}::uuid
      on conflict (run_id, task_id, map_index) do nothing
      returning task_id, state`,
  );
  return rows;
}
