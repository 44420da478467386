import { sql } from 'drizzle-orm';
import { execute, jsonb, type Tx } from '../execute.js';

/** The end of one try as stored: the row's new state and times, fenced by lease and try. */
export interface TryEnd {
  id: string;
  lease: string;
  try_number: number;
  state: string;
  error: string | null;
  next_try_at: Date | null;
  started_at: Date | null;
  ended_at: Date | null;
  sensor_started_at: Date | null;
}

/**
 * Records the ends of many tries in one statement and returns the ids it accepted: it locks
 * the runs (in id order, so finishers never deadlock), updates each task instance whose lease
 * and try number still hold, and stores the XComs of the accepted tries only. One statement
 * fewer per completion than a separate XCom insert (test/integration/engine-statements.test.ts).
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances, 1,210 runs: 10 ends with
 * their XComs, median 0.8-1.6 ms on 5 fresh databases. The runs to lock are found by a sequential
 * scan of dag_runs, cheap at that size; the task instances through a partial index over queued and
 * running rows (task_instances_running_heartbeat_idx or _active_dag_idx, in most plans bitmap-ANDed
 * with task_instances_unfinished_idx).)
 */
export async function recordTryEnds(
  tx: Tx,
  runIds: readonly string[],
  ends: readonly TryEnd[],
  xcoms: readonly { id: string; value: unknown }[],
): Promise<Set<string>> {
  const { rows } = await execute<{ id: string }>(
    tx,
    sql`with locked as (
          select id from dag_runs where id in (select value::uuid from jsonb_array_elements_text(${jsonb(runIds)})) order by id for update
        ), done as (
        update task_instances ti
           set state = v.state::task_state, error = v.error, next_try_at = v.next_try_at, owner = null, updated_at = now(),
               started_at = coalesce(v.started_at, ti.started_at), ended_at = coalesce(v.ended_at, now()),
               -- A rescheduled sensor keeps its first poke's time, which also tells the next claim
               -- not to use up a try (claim-tasks.ts); any other end forgets it.
               sensor_started_at = case when v.state = 'up_for_reschedule' then coalesce(ti.sensor_started_at, v.sensor_started_at) end
          from jsonb_to_recordset(${jsonb(ends)}) as v(id uuid, lease uuid, try_number int, state text, error text, next_try_at timestamptz,
                   started_at timestamptz, ended_at timestamptz, sensor_started_at timestamptz)
         where ti.id = v.id and ti.lease = v.lease and ti.try_number = v.try_number and ti.state in ('queued', 'running')
           and ti.run_id in (select id from locked)
        returning ti.id
        ), stored as (
          -- v -> 'value', not jsonb_to_recordset: that reads a JSON null as SQL NULL, and a
          -- task that returned null stores the JSON null (one that returned undefined stores nothing).
          insert into xcom (task_instance_id, value)
          select (v ->> 'id')::uuid, v -> 'value' from jsonb_array_elements(${jsonb(xcoms)}) as v
           where (v ->> 'id')::uuid in (select id from done)
          on conflict (task_instance_id, key) do update set value = excluded.value, created_at = now()
        )
        select id from done`,
  );
  return new Set(rows.map((r) => r.id));
}
