import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeDatabaseError } from '../db/errors.js';
import { execute } from '../db/execute.js';
import type { Engine } from '../engine/engine.js';

/** GET /health: the database answers, and what this process runs. 503 when the database does not. */
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
      roles: engine.roles,
      executor: engine.executor ? { running: engine.executor.running, threads: engine.pool?.size ?? 0 } : null,
    };
    return c.json(body, database === 'ok' ? 200 : 503);
  });
  return app;
}
