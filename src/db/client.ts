/**
 * One way to open the database for every process: node-postgres when a DATABASE_URL is
 * given, otherwise the embedded PGlite on disk under the Updraft home. Both are typed as
 * the same drizzle `Db`, so the rest of the code has one path.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { maskUrl } from '../connections/mask.js';
import { ConfigError } from '../errors.js';
import { lockEmbedded } from './lock.js';
import { migrate as applyMigrations } from './migrate.js';
import * as schema from './schema.js';

// A union of the two drivers' database types breaks `.returning()` in tsc; both assign to this.
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  driver: 'postgres' | 'pglite';
  /** Closes the connections (and releases the embedded database's lock). Safe to call twice. */
  close(): Promise<void>;
  /** Raw PGlite handle (driver 'pglite'), e.g. for `listen`. PGlite is one connection. */
  pglite?: PGlite;
  /** Raw node-postgres pool (driver 'postgres'), e.g. for a dedicated LISTEN client. */
  pool?: pg.Pool;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL. Set: a node-postgres pool. Unset or empty: the embedded PGlite. */
  databaseUrl?: string;
  /** Updraft home folder (config: UPDRAFT_HOME, default ./.updraft); the embedded database lives in `<home>/db`. */
  home: string;
  /** Apply pending migrations before returning. Default true. */
  migrate?: boolean;
  /** Most connections the pool opens (PostgreSQL only). Default 10. */
  poolMax?: number;
  /** Called when an idle pooled connection fails (e.g. the server restarted). Default: a process warning. */
  onPoolError?: (err: Error) => void;
}

/** The folder of the embedded database inside `home`. */
export function embeddedDataDir(home: string): string {
  return path.join(path.resolve(home), 'db');
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const database = opts.databaseUrl ? await openPostgres(opts.databaseUrl, opts) : await openEmbedded(opts.home);
  if (opts.migrate ?? true) {
    try {
      await applyMigrations(database);
    } catch (err) {
      await database.close();
      throw err;
    }
  }
  return database;
}

async function openPostgres(url: string, opts: OpenDatabaseOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolMax ?? 10,
    // Every session in UTC, as the embedded database is, so that SQL which renders or truncates
    // times agrees on both drivers. A startup parameter, so no extra round trip; an `options`
    // in the URL takes precedence.
    options: '-c TimeZone=UTC',
  });
  // Without a listener an idle connection's error would crash the process; the pool drops that connection.
  pool.on('error', opts.onPoolError ?? ((err: Error) => process.emitWarning(`PostgreSQL connection error: ${err.message}`)));
  // The pool listens only to idle connections. One checked out between two statements (a
  // transaction awaiting other work) that the server ends (a restart, a stall limit) would
  // crash the process too: its next statement fails instead, saying why, and the pool drops it.
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end();
    throw new ConfigError(`cannot connect to PostgreSQL at ${maskUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  return postgresDatabase(pool);
}

async function openEmbedded(home: string): Promise<Database> {
  const dataDir = embeddedDataDir(home);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const unlock = await lockEmbedded(dataDir);
  try {
    // Creating a new data dir takes 5-8 s on a 2-core machine; reopening one ~0.5 s.
    const pglite = await PGlite.create({ dataDir });
    return pgliteDatabase(pglite, unlock);
  } catch (err) {
    await unlock();
    throw err;
  }
}

/** Wrap an open pool. `close()` ends it. */
export function postgresDatabase(pool: pg.Pool): Database {
  return {
    db: drizzlePg({ client: pool, schema }),
    driver: 'postgres',
    pool,
    close: once(() => pool.end()),
  };
}

/** Wrap an open PGlite. `close()` closes it, then runs `afterClose` (e.g. releases a lock). */
export function pgliteDatabase(pglite: PGlite, afterClose?: () => Promise<void>): Database {
  return {
    db: drizzlePglite({ client: pglite, schema }),
    driver: 'pglite',
    pglite,
    close: once(async () => {
      try {
        if (!pglite.closed) await pglite.close();
      } finally {
        await afterClose?.();
      }
    }),
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

