import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeError } from '../db/errors.js';
import { execute, toDate } from '../db/execute.js';
import type { Engine } from '../engine/engine.js';

/**
 * The scheduler part of /health, from the heartbeat rows every scheduler keeps
 * (scheduler_heartbeats; touched every UPDRAFT_HEARTBEAT_INTERVAL), so any process,
 * `updraft web` included, sees the schedulers of all the others. Ages by the database's clock.
 */
export interface SchedulerHealth {
  /** ISO time of the newest heartbeat of any scheduler; null when none has beaten (or all stopped). */
  last_scheduler_heartbeat: string | null;
  /** Seconds since then (one decimal); null when the time is. */
  age_seconds: number | null;
  /** Schedulers whose heartbeat is fresh (younger than the stale limit). */
  alive: number;
  /** 'ok'; 'stale' when the newest heartbeat is older than UPDRAFT_HEARTBEAT_TIMEOUT; 'none' without any. */
  status: 'ok' | 'stale' | 'none';
}

export async function schedulerHealth(engine: Engine): Promise<SchedulerHealth> {
  const staleAfter = engine.config.heartbeatTimeoutMs / 1000;
  const { rows } = await execute<{ last: Date | string | null; age: number | null; alive: number }>(
    engine.database.db,
    sql`select max(heartbeat_at) as last, extract(epoch from now() - max(heartbeat_at))::float8 as age,
               count(*) filter (where heartbeat_at > now() - make_interval(secs => ${staleAfter}))::int as alive
          from scheduler_heartbeats`,
  );
  const row = rows[0];
  const last = row?.last ? toDate(row.last) : null;
  if (!last || row!.age === null)
    return { last_scheduler_heartbeat: null, age_seconds: null, alive: 0, status: 'none' };
  const age = Math.max(0, Number(row!.age));
  return {
    last_scheduler_heartbeat: last.toISOString(),
    age_seconds: Math.round(age * 10) / 10,
    alive: row!.alive,
    status: age > staleAfter ? 'stale' : 'ok',
  };
}

/**
 * GET /health: the database answers, the newest scheduler heartbeat, and what this process
 * runs. 503 when the database does not answer: 'unreachable', the reason in the log.
 */
export function healthRoutes(engine: Engine): Hono {
  const app = new Hono();
  app.get('/health', async (c) => {
    let database: 'ok' | 'unreachable' = 'ok';
    let scheduler: SchedulerHealth | null = null;
    try {
      scheduler = await schedulerHealth(engine);
    } catch (error) {
      // /health is open to anyone: the reason (a host, a user name) goes to the log only.
      database = 'unreachable';
      engine.log.warn(`/health: the database does not answer: ${describeError(error)}`);
    }
    const body = {
      status: database === 'ok' ? 'ok' : 'degraded',
      database: { driver: engine.database.driver, status: database },
      scheduler,
      roles: engine.roles,
      executor: engine.executor ? { running: engine.executor.running, threads: engine.pool?.size ?? 0 } : null,
    };
    return c.json(body, database === 'ok' ? 200 : 503);
  });
  return app;
}
