/**
 * PGlite is a single-process database: two processes opening the same data dir would
 * corrupt it. A lock file (proper-lockfile, `<dataDir>.lock`) turns that into a clear error.
 */
import lockfile from 'proper-lockfile';
import { ConfigError } from '../errors.js';

export interface LockOptions {
  /** The caller is a server process (standalone, scheduler, web, worker): the error says that it cannot run beside another. */
  server?: boolean;
  /** The holder seems to have been killed (its socket is dead): wait until its lock is stale instead of failing. */
  waitForStale?: boolean;
}

const STALE_MS = 10_000;

/**
 * Lock the embedded database at `dataDir`; resolves to the release function.
 * proper-lockfile refreshes the lock's mtime while the process lives and removes it on exit;
 * a lock left by a killed process counts as stale after 10 s and is taken over.
 * If the lock is lost while held (the event loop stalled past the stale time and another
 * process took it) proper-lockfile throws: crashing beats two writers on one data dir.
 */
export async function lockEmbedded(
  dataDir: string,
  { server = false, waitForStale = false }: LockOptions = {},
): Promise<() => Promise<void>> {
  try {
    // realpath false: the data dir does not exist yet on first start.
    return await lockfile.lock(dataDir, {
      realpath: false,
      stale: STALE_MS,
      retries: waitForStale ? { retries: STALE_MS / 500 + 4, factor: 1, minTimeout: 500, maxTimeout: 500 } : 0,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
      if (server) {
        throw new ConfigError(
          `the embedded database at ${dataDir} is in use by another Updraft process. It has one server process (standalone, scheduler, web or worker), which the other updraft commands reach through its socket; stop that process to run this one here, or set DATABASE_URL to run several against PostgreSQL`,
          { cause: err },
        );
      }
      throw new ConfigError(
        `the embedded database at ${dataDir} is in use by another Updraft process; stop it, or set DATABASE_URL to share a PostgreSQL server`,
        { cause: err },
      );
    }
    throw err;
  }
}
