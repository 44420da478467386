/**
 * One way to open the database for every process: node-postgres when a DATABASE_URL is
 * given, otherwise the embedded PGlite on disk under the Updraft home. Both are typed as
 * the same drizzle `Db`, so the rest of the code has one path. While a server process
 * holds the embedded database, other processes reach it through its socket (socket/),
 * with node-postgres again.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS } from '../config.js';
import { maskUrl } from '../util/mask.js';
import { ConfigError } from '../errors.js';
import { describeError } from './errors.js';
import { lockEmbedded, type LockOptions } from './lock.js';
import { migrate as applyMigrations } from './migrate.js';
import { dropStuckClients, sessionPoolConfig } from './pg-session.js';
import * as schema from './schema.js';
import { sessionLimits, type SessionLimits } from './session-limits.js';
import { embeddedSocket, serveSocket } from './socket/index.js';
import { holdLimits, type HoldLimits } from './socket/session.js';

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
  /** The socket file other processes reach this embedded database through (opened with `serve`). */
  socketFile?: string;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL. Set: a node-postgres pool. Unset or empty: the embedded PGlite. */
  databaseUrl?: string;
  /** Updraft home folder (config: UPDRAFT_HOME, default ./.updraft); the embedded database lives in `<home>/db`. */
  home: string;
  /** Apply pending migrations before returning. Default true. */
  migrate?: boolean;
  /**
   * What a session on PostgreSQL may hold or wait for (session-limits.ts), usually
   * `sessionLimits(config.heartbeatTimeoutMs)`. Default: those of the default heartbeat
   * timeout. Not applied through the embedded database's socket, which has its own limits.
   */
  session?: SessionLimits;
  /** Most connections the pool opens (PostgreSQL only). Default 10. */
  poolMax?: number;
  /** Called when an idle pooled connection fails (e.g. the server restarted). Default: a process warning. */
  onPoolError?: (err: Error) => void;
  /**
   * This process is the server of the embedded database (standalone, scheduler, web, worker):
   * it opens the files itself, never through another process's socket, and serves them on
   * its own socket until closed. Default false: a command goes through the socket of the
   * server that holds the files, or opens them itself when none runs.
   */
  serve?: boolean;
  /**
   * With `serve`: whether this process runs a scheduler (told to the socket's clients), and how
   * long one client may hold the database (socket/session.ts, `holdLimits` of the heartbeat
   * settings). Default: no scheduler, the limits of the default heartbeats.
   */
  serving?: { scheduler: boolean; limits: HoldLimits };
  /** Problems that do not stop the process (the socket cannot be served). Default: a process warning. */
  onWarning?: (message: string) => void;
}

/** The folder of the embedded database inside `home`. */
export function embeddedDataDir(home: string): string {
  return path.join(path.resolve(home), 'db');
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const database = opts.databaseUrl
    ? await openPostgres(
        {
          connectionString: opts.databaseUrl,
          max: opts.poolMax ?? 10,
          ...sessionPoolConfig(opts.session ?? sessionLimits()),
        },
        `PostgreSQL at ${maskUrl(opts.databaseUrl)}`,
        opts,
      )
    : await openShared(opts);
  if (opts.migrate ?? true) {
    try {
      await applyMigrations(database);
    } catch (err) {
      await database.close();
      throw err;
    }
  }
  if (opts.serve && database.pglite) return serving(database, opts);
  return database;
}

/** The embedded database: through the socket of the server holding it, else its files. */
async function openShared(opts: OpenDatabaseOptions): Promise<Database> {
  const throughSocket = opts.serve ? null : await openThroughSocket(opts);
  if (throughSocket && throughSocket !== 'stale') return throughSocket;
  // A socket nobody listens on was left by a server killed a moment ago: its lock turns
  // stale within seconds (lock.ts), then this process opens the files.
  return openEmbedded(opts.home, { server: opts.serve ?? false, waitForStale: throughSocket === 'stale' });
}

/**
 * The embedded database through the socket of the server holding it; null when there is
 * no socket file, 'stale' when one was left by a killed server (nobody listens on it).
 */
async function openThroughSocket(opts: OpenDatabaseOptions): Promise<Database | 'stale' | null> {
  const socket = embeddedSocket(opts.home);
  if (!socket || !existsSync(socket.file)) return null;
  // One connection, as PGlite is: the server runs one statement at a time anyway, and a
  // command that works on the embedded database in process works the same way here.
  // No session limits: PGlite is one backend that the server process and every client
  // share, so a timeout set by a client would apply to them all; the socket bounds how
  // long a client holds it instead (socket/session.ts). No keepalive: a Unix socket.
  const config: pg.PoolConfig = {
    host: socket.dir,
    port: socket.port,
    user: 'postgres',
    database: 'postgres',
    max: 1,
    options: '-c TimeZone=UTC',
  };
  try {
    return await openPostgres(config, `the embedded database's socket ${socket.file}`, opts);
  } catch (err) {
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ECONNREFUSED') return 'stale';
    if (code === 'ENOENT') return null;
    throw err;
  }
}

/** Serves the embedded database on its socket until `close()`. */
async function serving(database: Database, opts: OpenDatabaseOptions): Promise<Database> {
  const onWarning = opts.onWarning ?? ((message: string) => process.emitWarning(message));
  let socket: Awaited<ReturnType<typeof serveSocket>>;
  try {
    const serving = opts.serving ?? {
      scheduler: false,
      limits: holdLimits({ heartbeatMs: 5_000, heartbeatTimeoutMs: DEFAULT_HEARTBEAT_TIMEOUT_MS }),
    };
    socket = await serveSocket(database.pglite!, opts.home, { onWarning, ...serving });
  } catch (err) {
    await database.close();
    throw err;
  }
  const closeDatabase = database.close;
  return {
    ...database,
    socketFile: socket?.file,
    close: once(async () => {
      try {
        await socket?.close();
      } finally {
        await closeDatabase();
      }
    }),
  };
}

async function openPostgres(config: pg.PoolConfig, what: string, opts: OpenDatabaseOptions): Promise<Database> {
  // `config.options`: every session in UTC (pg-session.ts says why), plus the session limits on real PostgreSQL.
  const pool = new pg.Pool(config);
  // Without a listener an idle connection's error would crash the process; the pool drops that connection.
  pool.on(
    'error',
    opts.onPoolError ?? ((err: Error) => process.emitWarning(`PostgreSQL connection error: ${describeError(err)}`)),
  );
  dropStuckClients(pool);
  // The pool listens only to idle connections. One checked out between two statements (a
  // transaction awaiting other work) that the server ends (a restart, a stall limit) would
  // crash the process too: its next statement fails instead, saying why, and the pool drops it.
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end();
    throw new ConfigError(`cannot connect to ${what}: ${(err as Error).message}`, { cause: err });
  }
  return postgresDatabase(pool);
}

async function openEmbedded(home: string, lockOptions: LockOptions): Promise<Database> {
  const dataDir = embeddedDataDir(home);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const unlock = await lockEmbedded(dataDir, lockOptions);
  try {
    // This process holds the files, so no server listens on a socket file left there.
    const socket = embeddedSocket(home);
    if (socket) await rm(socket.file, { force: true });
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
