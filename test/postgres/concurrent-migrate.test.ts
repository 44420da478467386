import { sql } from 'drizzle-orm';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { sessionLimits } from '../../src/db/session-limits.js';
import { createDatabase, dropDatabase, testDatabaseName, urlFor } from '../support/postgres-admin.js';

describe('migrations on PostgreSQL', () => {
  it('lets several processes migrate a new PostgreSQL database at once', async () => {
    const name = testDatabaseName();
    await createDatabase(name);
    onTestFinished(() => dropDatabase(name));
    // Without the advisory lock the losers fail with "type ... already exists".
    const opened = await Promise.all(
      [1, 2, 3].map(() => openDatabase({ databaseUrl: urlFor(name), home: '', poolMax: 1 })),
    );
    await Promise.all(opened.map((d) => d.close()));
    const check = await openDatabase({ databaseUrl: urlFor(name), home: '', migrate: false });
    const { rows } = await execute<{ n: number }>(
      check.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    await check.close();
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2);
  });

  it("waits for another process's migration longer than the session's lock timeout", async () => {
    const name = testDatabaseName();
    await createDatabase(name);
    onTestFinished(() => dropDatabase(name));
    // Another process is migrating: it holds the migration lock for 3 s, past lock_timeout (2 s at this heartbeat timeout).
    const other = new pg.Client({ connectionString: urlFor(name) });
    await other.connect();
    onTestFinished(() => other.end());
    await other.query(`select pg_advisory_lock(hashtextextended('updraft:migrate', 0))`);
    const opening = openDatabase({ databaseUrl: urlFor(name), home: '', session: sessionLimits(3_000) });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await other.query(`select pg_advisory_unlock(hashtextextended('updraft:migrate', 0))`);
    const database = await opening;
    const { rows } = await execute<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    await database.close();
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2);
  });
});
