import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeDatabaseError } from '../db/errors.js';
import { execute } from '../db/execute.js';
import type { Engine } from '../engine/engine.js';

/**
 * The scheduler part of /health. Only this process's scheduler is known: its loop's last
 * pass. A scheduler in another process (or none at all) shows as null, since there is no
 * shared heartbeat row yet.
 */
export interface SchedulerHealth {
  /** ISO time of this process's scheduler's last completed pass; null without the scheduler role, or before its first pass. */
  last_scheduler_heartbeat: string | null;
  /** Seconds since then (one decimal); null when the time is. */
  age_seconds: number | null;
  /** 'ok'; 'stale' when older than the heartbeat timeout (the loop runs at least every poll interval); 'starting' before the first pass; 'not in this process'. */
  status: 'ok' | 'stale' | 'starting' | 'not in this process';
}

export function schedulerHealth(engine: Engine, now = Date.now()): SchedulerHealth {
  const scheduler = engine.scheduler;
  if (!scheduler) return { last_scheduler_heartbeat: null, age_seconds: null, status: 'not in this process' };
  const last = scheduler.lastLoopAt;
  if (!last) return { last_scheduler_heartbeat: null, age_seconds: null, status: 'starting' };
  const ageMs = Math.max(0, now - last.getTime());
  const staleAfter = Math.max(engine.config.heartbeatTimeoutMs, 3 * engine.config.schedulerPollMs);
  return { last_scheduler_heartbeat: last.toISOString(), age_seconds: Math.round(ageMs / 100) / 10, status: ageMs > staleAfter ? 'stale' : 'ok' };
}

/** GET /health: the database answers, this process's scheduler heartbeat, and what this process runs. 503 when the database does not answer. */
export function healthRoutes(engine: Engine): Hono {
  const app = new Hono();
  app.get('/health', async (c) => {
    let database: 'ok' | string = 'ok';
    try {
      await execute(engine.database.db, sql`select 1`);
    } catch (error) {
      database = `unreachable: ${describeDatabaseError(error) ?? (error as Error).message.split('\n')[0]}`;
    }
    const body = {
      status: database === 'ok' ? 'ok' : 'degraded',
      database: { driver: engine.database.driver, status: database },
      scheduler: schedulerHealth(engine),
      roles: engine.roles,
      executor: engine.executor ? { running: engine.executor.running, threads: engine.pool?.size ?? 0 } : null,
    };
    return c.json(body, database === 'ok' ? 200 : 503);
  });
  return app;
}
