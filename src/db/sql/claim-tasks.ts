import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client.js';
import { execute, toDate, type Tx } from '../execute.js';

export interface ClaimedTask {
  id: string;
  task_id: string;
  /** -1, or the instance's index in a mapped task. */
  map_index: number;
  try_number: number;
  max_tries: number;
  lease: string;
  run_row_id: string;
  run_id: string;
  /** The run's DAG version: its graph decides what runs next (src/state/complete-tries.ts). */
  dag_version_id: string;
  /**
   * The DAG's latest stored version when the try was claimed: the code the try runs
   * (docs/engine.md), recorded on the task instance and in task_instance_tries.
   */
  try_version_id: string;
  logical_date: Date;
  interval_start: Date;
  interval_end: Date;
  conf: Record<string, unknown>;
  /** The run's type: a dataset_triggered run's conf carries its triggering events. */
  run_type: string;
  /** The task instance belongs to a backfill run: it yields to other work (docs/backfill.md). */
  backfill: boolean;
  /** When the task instance became ready: the start of its scheduling delay. */
  scheduled_at: Date;
  /** A reschedule-mode sensor's first poke of this try, kept across reschedules; null otherwise. */
  sensor_started_at: Date | null;
}

/**
 * Claims serialize on this lock so that two claimers cannot both fill a pool's last slot.
 * It is only ever tried, never waited for: a claimer that finds it taken claims nothing
 * this time and tries again a moment later (`busy`), so a holder that stalls (a process
 * frozen or cut off inside its claim) queues nobody behind it, and PostgreSQL ends the
 * stalled transaction, and the lock with it, after the session's
 * idle_in_transaction_session_timeout (src/db/session-limits.ts): a few seconds.
 */
const CLAIM_LOCK = 0x75706466; // 'updf'

/**
 * Claims up to `limit` scheduled task instances for `owner`: work of scheduled and
 * manual runs before backfill work, then highest priority first, then oldest,
 * within the free slots of their pools and their DAG's maxActiveTasks. One statement
 * (after the lock): the candidates come from the partial index over scheduled rows,
 * locked with SKIP LOCKED, so finished history never slows it down. Each claim gets
 * a new lease (fencing token) and the next try number (a rescheduled sensor keeps its
 * own: a reschedule uses up no try). `onlyRun` limits the claim to one run (`updraft dags test`).
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances, 840 unfinished: 16 claimed
 * through task_instances_claimable_idx, pool and DAG use counted from the partial indexes over
 * active rows, median 1.7-2.4 ms on 5 fresh databases.)
 */
export interface ClaimRequest {
  owner: string;
  queues: readonly string[];
  limit: number;
  /** Only this run's tasks (`updraft dags test`). */
  onlyRun?: string;
  /**
   * A new random uuid per attempt. Each claimed row's lease is derived from it (leaseOf), so
   * that after a connection error the claimer can find what the attempt claimed, whether or
   * not its commit went through (recoverClaims).
   */
  token: string;
}

export interface Claim {
  tasks: ClaimedTask[];
  /** Another claimer held the claim lock: nothing was claimed, try again shortly. */
  busy: boolean;
}

export async function claimTasks(db: Db, request: ClaimRequest): Promise<Claim> {
  return db.transaction((tx) => claimWithin(tx, request));
}

/** The claim inside a transaction the caller holds (completeTries claims what it just made ready). */
export async function claimWithin(tx: Tx, { owner, queues, limit, onlyRun, token }: ClaimRequest): Promise<Claim> {
  if (limit <= 0) return { tasks: [], busy: false };
  // Its own statement: a statement sees the rows committed when it started, so the
  // counts below must be read by a statement that starts after the lock is held.
  const { rows: lock } = await execute<{ held: boolean }>(
    tx,
    sql`select pg_try_advisory_xact_lock(${CLAIM_LOCK}) as held`,
  );
  if (!lock[0]?.held) return { tasks: [], busy: true };
  const { rows } = await execute<ClaimedTask & Record<string, unknown>>(
    tx,
    sql`with candidates as (
          select ti.id, ti.run_id, ti.pool, ti.dag_id, ti.backfill, ti.priority, ti.scheduled_at
            from task_instances ti
           where ti.state = 'scheduled' and ti.queue = any(${toTextArray(queues)}::text[])
             and (${onlyRun ?? null}::uuid is null or ti.run_id = ${onlyRun ?? null}::uuid)
           order by ti.backfill, ti.priority desc, ti.scheduled_at, ti.id
           limit ${limit * 4}
             for update skip locked
        ), pool_use as (
          select pool, count(*)::int as used from task_instances
           where state in ('queued', 'running') and pool in (select pool from candidates) group by pool
        ), dag_use as (
          select dag_id, count(*)::int as used from task_instances
           where state in ('queued', 'running') and dag_id in (select dag_id from candidates) group by dag_id
        ), ranked as (
          select c.*,
                 row_number() over (partition by c.pool order by c.backfill, c.priority desc, c.scheduled_at, c.id) as pool_rank,
                 row_number() over (partition by c.dag_id order by c.backfill, c.priority desc, c.scheduled_at, c.id) as dag_rank
            from candidates c
        ), chosen as (
          select r.id, r.run_id, r.backfill, r.priority, r.scheduled_at, d.latest_version_id from ranked r
            join pools p on p.name = r.pool
            join dags d on d.id = r.dag_id
            left join pool_use pu on pu.pool = r.pool
            left join dag_use du on du.dag_id = r.dag_id
           where r.pool_rank <= p.slots - coalesce(pu.used, 0)
             and r.dag_rank <= d.max_active_tasks - coalesce(du.used, 0)
           order by r.backfill, r.priority desc, r.scheduled_at, r.id
           limit ${limit}
        ), claimed as (
          update task_instances ti
             -- clock_timestamp(), not now(): a claim is alive from the moment it is written, not from
             -- the start of its transaction (a commit's claim follows the commit's other work).
             set state = 'queued', queued_at = clock_timestamp(), owner = ${owner},
                 -- A sensor coming back from up_for_reschedule (it has a first poke) goes on with its try.
                 try_number = ti.try_number + case when ti.sensor_started_at is null then 1 else 0 end,
                 lease = ${leaseOf(token, sql`ti.id`)}, heartbeat_at = clock_timestamp(), updated_at = now(),
                 -- The code the try runs: the DAG's latest version now, not the run's (docs/engine.md).
                 dag_version_id = coalesce(c.latest_version_id, r.dag_version_id)
            from chosen c join dag_runs r on r.id = c.run_id
           where ti.id = c.id
          returning ti.id, ti.task_id, ti.map_index, ti.try_number, ti.max_tries, ti.lease, r.id as run_row_id, r.run_id, r.dag_version_id,
                    ti.dag_version_id as try_version_id, r.logical_date, r.interval_start, r.interval_end, r.conf, r.run_type,
                    c.backfill, c.priority, c.scheduled_at, ti.sensor_started_at
        ), tried as (
          -- In this statement, not one more per try. A try claimed again (handed back, or a
          -- rescheduled sensor's next poke) keeps its number: its row takes the newer version.
          insert into task_instance_tries (task_instance_id, try_number, dag_version_id)
          select id, try_number, try_version_id from claimed
          on conflict (task_instance_id, try_number) do update set dag_version_id = excluded.dag_version_id
        )
        -- RETURNING has no order; tasks start in this order when threads are scarce.
        select * from claimed order by backfill, priority desc, scheduled_at, id`,
  );
  return { tasks: rows.map(withDates), busy: false };
}

/**
 * What attempts with these tokens claimed for `owner` and still hold, not started: after a
 * connection error during a claim (the reply to its COMMIT lost, say) the claimer does not
 * know whether the claim was committed, and finds out here. No lock: the rows are the
 * owner's, and only it starts them.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: a partial index over queued
 * and running rows (task_instances_running_heartbeat_idx, in most plans bitmap-ANDed with
 * task_instances_unfinished_idx), then dag_runs_pkey, median 0.8-1.3 ms on 5 fresh databases.)
 */
export async function recoverClaims(db: Db, owner: string, tokens: readonly string[]): Promise<ClaimedTask[]> {
  if (tokens.length === 0) return [];
  const { rows } = await execute<ClaimedTask & Record<string, unknown>>(
    db,
    sql`select ti.id, ti.task_id, ti.map_index, ti.try_number, ti.max_tries, ti.lease, r.id as run_row_id, r.run_id, r.dag_version_id,
               ti.dag_version_id as try_version_id, r.logical_date, r.interval_start, r.interval_end, r.conf, r.run_type,
               ti.backfill, ti.priority, ti.scheduled_at, ti.sensor_started_at
          from task_instances ti join dag_runs r on r.id = ti.run_id
         where ti.owner = ${owner} and ti.state = 'queued'
           and ti.lease in (select ${leaseOf(sql`t.token`, sql`ti.id`)} from unnest(${toTextArray(tokens)}::text[]) as t(token))
         order by ti.backfill, ti.priority desc, ti.scheduled_at, ti.id`,
  );
  return rows.map(withDates);
}

/** A claimed row's lease: a uuid of the claim's token and the row's id. */
function leaseOf(token: string | SQL, id: SQL): SQL {
  return sql`md5(${token}::text || ':' || ${id}::text)::uuid`;
}

function withDates(row: ClaimedTask): ClaimedTask {
  row.logical_date = toDate(row.logical_date);
  row.interval_start = toDate(row.interval_start);
  row.interval_end = toDate(row.interval_end);
  row.scheduled_at = toDate(row.scheduled_at);
  row.sensor_started_at = toDate(row.sensor_started_at);
  return row;
}

/** A text[] literal for `= any(...)`: one parameter whatever the list length. */
export function toTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}
