import { sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { execute, jsonb, type Tx } from '../execute.js';
import { CHANNELS } from '../notify.js';

export interface HeldTry {
  id: string;
  lease: string;
}

/**
 * Makes held tries scheduled again without using up a try, fenced by lease, and wakes
 * executors (NOTIFY updraft_work) when any went back. `states`: which tries may go back:
 * an executor hands back its own whether running or not (a stop, a lost database); a
 * scheduler hands back a lost worker's only while they are `queued`, never started.
 * Returns how many went back.
 * (bench/sql-plans.ts, PostgreSQL 15, 100,000 finished task instances: 10 tries by
 * task_instances_pkey, median 0.3-0.5 ms on 5 fresh databases.)
 */
export async function handBackTries(
  db: Db | Tx,
  tries: readonly HeldTry[],
  states: readonly ('queued' | 'running')[],
): Promise<number> {
  if (tries.length === 0) return 0;
  const { rows } = await execute<{ n: number }>(
    db,
    sql`with back as (
          update task_instances ti set state = 'scheduled', scheduled_at = now(), owner = null, updated_at = now(),
                 -- A rescheduled sensor's claim did not count a try (claim-tasks.ts).
                 try_number = ti.try_number - case when ti.sensor_started_at is null then 1 else 0 end
            from jsonb_to_recordset(${jsonb(tries.map((t) => ({ id: t.id, lease: t.lease })))}) as v(id uuid, lease uuid)
           where ti.id = v.id and ti.lease = v.lease and ti.state::text in (select jsonb_array_elements_text(${jsonb(states)}))
          returning 1
        )
        select (select count(*)::int from back) as n, (select pg_notify(${CHANNELS.work}, '') where exists (select 1 from back)) as woken`,
  );
  return rows[0]?.n ?? 0;
}
