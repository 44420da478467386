import { sql } from 'drizzle-orm';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { createDatabase, dropDatabase, testDatabaseName, urlFor } from '../support/postgres-admin.js';

describe('migrations on PostgreSQL', () => {
  it('lets several processes migrate a new PostgreSQL database at once', async () => {
    const name = testDatabaseName();
    await createDatabase(name);
    onTestFinished(() => dropDatabase(name));
    // Without the advisory lock the losers fail with "type ... already exists".
    const opened = await Promise.all([1, 2, 3].map(() => openDatabase({ databaseUrl: urlFor(name), home: '', poolMax: 1 })));
    await Promise.all(opened.map((d) => d.close()));
    const check = await openDatabase({ databaseUrl: urlFor(name), home: '', migrate: false });
    const { rows } = await execute<{ n: number }>(check.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    await check.close();
    expect(rows[0]!.n).toBeGreaterThanOrEqual(2);
  });

});
