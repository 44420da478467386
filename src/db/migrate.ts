/**
 * Applies the committed migrations in drizzle/ (generated from schema.ts by drizzle-kit).
 * drizzle records applied migrations in drizzle.__drizzle_migrations and runs the pending
 * ones in one transaction, so a failed migration leaves the schema as it was.
 */
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePgDb } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePgliteDb } from 'drizzle-orm/pglite/migrator';
import type pg from 'pg';
import { UpdraftError } from '../errors.js';
import type { Database } from './client.js';

/** The repo's drizzle/ folder, found from this file so that the working directory does not matter. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle/', import.meta.url));

/** Apply pending migrations to `database`. Safe to call from several processes at once. */
export async function migrate(database: Database): Promise<void> {
  if (database.pglite) await migratePglite(database.pglite);
  else if (database.pool) await migratePool(database.pool);
  else throw new UpdraftError('cannot migrate: the database has neither a PGlite nor a pg pool handle');
}

/** PGlite is one process's private database (guarded by a lock file): no cross-process lock needed. */
export async function migratePglite(pglite: PGlite): Promise<void> {
  await migratePgliteDb(drizzlePglite({ client: pglite }), { migrationsFolder: MIGRATIONS_FOLDER });
}

/**
 * Several schedulers, workers and web servers may start together against one PostgreSQL.
 * A session advisory lock, held on one pooled connection for the whole migration, makes
 * them apply migrations one after the other; the later ones find nothing left to do.
 */
export async function migratePool(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(`select pg_advisory_lock(hashtextextended('updraft:migrate', 0))`);
    try {
      await migratePgDb(drizzlePg({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client.query(`select pg_advisory_unlock(hashtextextended('updraft:migrate', 0))`);
    }
  } catch (err) {
    // Do not hand a connection in an unknown state (maybe still holding the lock) back to the pool.
    broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(broken);
  }
}
