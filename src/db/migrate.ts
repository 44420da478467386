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
import { dedicatedClient } from './pg-session.js';

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
 * A session advisory lock, held on one connection for the whole migration, makes them
 * apply migrations one after the other; the later ones find nothing left to do.
 *
 * The connection is one of its own, without the session's lock, statement and client-side
 * query timeouts (session-limits.ts): waiting for another process's migration, or a
 * migration statement rewriting a big table, may rightly take minutes. The idle-in-
 * transaction limit and keepalive stay, so a migrating process that froze or vanished
 * still lets go of its locks.
 */
export async function migratePool(pool: pg.Pool): Promise<void> {
  const client = dedicatedClient(pool, { query_timeout: undefined });
  // An error of the idle connection (the server ended it) surfaces on its next query instead.
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`select set_config('lock_timeout', '0', false), set_config('statement_timeout', '0', false)`);
    await client.query(`select pg_advisory_lock(hashtextextended('updraft:migrate', 0))`);
    try {
      await migratePgDb(drizzlePg({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      // Through the embedded database's socket the session is the server's, and outlives this
      // connection. A failure here must not hide the migration's own.
      await client.query(`select pg_advisory_unlock(hashtextextended('updraft:migrate', 0))`).catch(() => {});
    }
  } finally {
    // On PostgreSQL, ending the session releases the lock whatever state a failure left it in.
    await client.end().catch(() => {});
  }
}
