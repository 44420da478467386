/**
 * Counts the SQL statements the engine sends, for regression floors that do not depend on
 * the machine's speed (test/integration/engine-statements.test.ts). The same pool or
 * PGlite, under a second drizzle instance whose logger sees every statement; BEGIN, COMMIT
 * and ROLLBACK are left out, since PGlite issues them itself, unseen by drizzle.
 */
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import type { Database, Db } from '../../src/db/client.js';
import * as schema from '../../src/db/schema.js';

export interface StatementCounter {
  /** The database to hand to the engine: its statements are counted. */
  database: Database;
  /** Statements since the last reset, by their first words (e.g. 'update task_instances'). */
  counts(): Map<string, number>;
  total(): number;
  reset(): void;
}

const TRANSACTION_CONTROL = /^\s*(begin|commit|rollback|savepoint|release)\b/i;

export function countStatements(database: Database): StatementCounter {
  let counts = new Map<string, number>();
  const logger = {
    logQuery(query: string) {
      if (TRANSACTION_CONTROL.test(query)) return;
      const kind = query.trim().replace(/\s+/g, ' ').split(' ').slice(0, 3).join(' ').toLowerCase();
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    },
  };
  const db = (database.pool
    ? drizzlePg({ client: database.pool, schema, logger })
    : drizzlePglite({ client: database.pglite!, schema, logger })) as unknown as Db;
  return {
    database: { ...database, db },
    counts: () => new Map(counts),
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => (counts = new Map()),
  };
}
