/**
 * Where `updraft backfill` runs its backfill, by deployment:
 * - PostgreSQL (DATABASE_URL): the backfill is stored; any running scheduler executes it.
 * - the embedded database held by `standalone`: through standalone's API, which executes it;
 *   held by another server process (`scheduler`): stored through its socket, and it executes it;
 *   held by `web` or `worker`, which run no scheduler: refused (the backfill would never run).
 * - the embedded database with no other process on it: this process opens it and, while
 *   it waits, runs the scheduler and a task pool itself (no scheduled runs: `npm start` does those).
 * The embedded database is never opened by two processes at once (src/db/lock.ts).
 */
import type { Config } from '../../config.js';
import { openDatabase, type Database } from '../../db/client.js';
import { sessionLimits } from '../../db/session-limits.js';
import { socketHolder } from '../../db/socket/index.js';
import { Engine } from '../../engine/engine.js';
import { ConfigError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { DagProcessor } from '../../processor/processor.js';
import { findLocalServer } from '../local-server.js';
import { directClient, httpClient, type BackfillClient } from './client.js';

/** 'socket': the embedded database through the socket of the server process holding it (a scheduler). */
export type Deployment = 'postgres' | 'standalone' | 'socket' | 'embedded';

export interface BackfillTarget {
  client: BackfillClient;
  deployment: Deployment;
  /** One line saying where the backfill runs. */
  where: string;
  /** 'embedded' only: start the scheduler and task pool in this process. */
  runHere(): Promise<Engine>;
  close(): Promise<void>;
}

/**
 * `refresh`: read the DAG files into the database first, as `dags trigger` does, so that a
 * DAG just written can be backfilled (creating and previewing need it; managing does not).
 */
export async function connectBackfills(
  config: Config,
  actor: string,
  { refresh }: { refresh: boolean },
): Promise<BackfillTarget> {
  if (!config.databaseUrl) {
    const holder = await socketHolder(config.home);
    if (holder && !holder.scheduler) {
      throw new ConfigError(
        `the embedded database is held by an updraft process that runs no scheduler (pid ${holder.pid}: 'updraft web' or 'updraft worker'), so a backfill stored through it would never run, ` +
          "and no scheduler can start beside it; stop that process and run this command again (it then runs the backfill itself), or run 'npm start' (standalone) instead",
      );
    }
    const server = await findLocalServer(config.home);
    if (server) {
      return {
        client: httpClient(server, actor),
        deployment: 'standalone',
        where: `through standalone (pid ${server.pid}, ${server.url}), which holds the embedded database and runs the backfill`,
        runHere: () => Promise.reject(new Error('standalone runs it')),
        close: async () => {},
      };
    }
  }
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    home: config.home,
    session: sessionLimits(config.heartbeatTimeoutMs),
  }).catch((error: unknown) => {
    if (error instanceof ConfigError && !config.databaseUrl) {
      throw new ConfigError(
        `${error.message}. It is not a standalone this command can go through (none published its address in ${config.home}); wait for that process to end, or stop it`,
        { cause: error },
      );
    }
    throw error;
  });
  let engine: Engine | undefined;
  try {
    if (refresh) await new DagProcessor(database.db, config).refresh();
  } catch (error) {
    await database.close();
    throw error;
  }
  // Through the socket of a server process holding the embedded database (a `scheduler`), the
  // backfill is stored and that process runs it, as on PostgreSQL.
  const embedded = database.driver === 'pglite';
  return {
    client: directClient(database.db, actor),
    deployment: embedded ? 'embedded' : config.databaseUrl ? 'postgres' : 'socket',
    where: embedded
      ? `in this process: no standalone is running, so this command holds the embedded database and runs the scheduler and ${config.concurrency} task threads until the backfill ends`
      : config.databaseUrl
        ? 'by the schedulers running against this PostgreSQL database'
        : 'by the server process holding the embedded database (reached through its socket)',
    async runHere() {
      engine = inProcessEngine(database, config);
      await engine.start();
      return engine;
    },
    async close() {
      await engine?.stop();
      await database.close();
    },
  };
}

function inProcessEngine(database: Database, config: Config): Engine {
  // Warnings and errors only: the progress display owns the terminal.
  return new Engine(database, config, { processor: true, scheduler: true, executor: true }, createLogger('warn'), {
    createScheduledRuns: false,
  });
}
