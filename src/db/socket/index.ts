/**
 * The embedded database is one process's files. The server process holding them (standalone)
 * serves them on a Unix socket in the Updraft home, and every other `updraft` command
 * connects there with node-postgres, as it would to PostgreSQL: one code path per command,
 * whoever holds the files.
 *
 * Only the owner of the files may connect: the socket sits in `<home>/socket/`, a folder of
 * mode 0700, and is itself 0600 (PGlite asks for no password). A Unix socket rather than a
 * loopback port with a secret: nothing listens on the network, and the file system already
 * says who the owner is.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';
import { SharedPglite, type HoldLimits } from './session.js';

// package.json pins @electric-sql/pglite and @electric-sql/pglite-socket to exact versions:
// session.ts uses PGlite's private `_runExclusiveTransaction` and stands in for
// pglite-socket's `queryQueue`, neither of which is a stable API.

/** node-postgres (libpq too) dials `<host>/.s.PGSQL.<port>` when the host is a folder. */
const PORT = 5432;

/** Longest Unix socket path Linux and macOS accept (sun_path), less the final NUL. */
const MAX_SOCKET_PATH = 103;

export interface EmbeddedSocket {
  /** The folder of the socket: node-postgres's `host`. */
  dir: string;
  port: number;
  /** The socket file. */
  file: string;
}

/** Where the embedded database of `home` is served; null when the path is too long for a Unix socket. */
export function embeddedSocket(home: string): EmbeddedSocket | null {
  const dir = path.join(path.resolve(home), 'socket');
  const file = path.join(dir, `.s.PGSQL.${PORT}`);
  return Buffer.byteLength(file) > MAX_SOCKET_PATH ? null : { dir, port: PORT, file };
}

/**
 * What the process serving the socket runs, written beside it (`holder.json`) for the
 * commands that go through it: a backfill stored through a holder with no scheduler would never run.
 */
export interface SocketHolder {
  pid: number;
  scheduler: boolean;
}

function holderFile(dir: string): string {
  return path.join(dir, 'holder.json');
}

/** The holder of the socket of `home`; null when none wrote one (none serves, or an older version). */
export async function socketHolder(home: string): Promise<SocketHolder | null> {
  const socket = embeddedSocket(home);
  if (!socket) return null;
  try {
    return JSON.parse(await readFile(holderFile(socket.dir), 'utf8')) as SocketHolder;
  } catch {
    return null;
  }
}

export interface ServeSocketOptions {
  onWarning: (message: string) => void;
  /** This process runs a scheduler (standalone, scheduler), not web or worker alone. */
  scheduler: boolean;
  limits: HoldLimits;
}

export interface SocketServer {
  file: string;
  /** Ends the connections (rolling back their open transactions) and removes the socket file. */
  close(): Promise<void>;
}

/**
 * Serves `pglite` on the socket of `home`. The caller holds the embedded database's lock, so
 * a socket file already there was left by a killed process and is replaced.
 */
export async function serveSocket(
  pglite: PGlite,
  home: string,
  { onWarning, scheduler, limits }: ServeSocketOptions,
): Promise<SocketServer | null> {
  const socket = embeddedSocket(home);
  if (!socket) {
    onWarning(
      `the Updraft home ${path.resolve(home)} is too long a path for a Unix socket: other updraft commands cannot reach the embedded database while this process runs (use a shorter UPDRAFT_HOME)`,
    );
    return null;
  }
  await mkdir(socket.dir, { recursive: true, mode: 0o700 });
  // The folder may have been made by an older version, or by hand, with a wider mode.
  await chmod(socket.dir, 0o700);
  await rm(socket.file, { force: true });
  const holder: SocketHolder = { pid: process.pid, scheduler };
  await writeFile(holderFile(socket.dir), `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  const shared = new SharedPglite(pglite, onWarning, limits);
  const server = createServer((connection) => {
    const handler = new PGLiteSocketHandler({
      // pglite-socket's handler frames messages and answers SSL and cancel requests; the queue
      // it runs them through is ours (session.ts), with the methods the handler calls.
      queryQueue: shared as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
    });
    shared.attach(handler.handlerId, connection);
    void handler.attach(connection);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket.file, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socket.file, 0o600);
  return {
    file: socket.file,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await shared.closeAll();
      await closed;
      await rm(socket.file, { force: true });
      await rm(holderFile(socket.dir), { force: true });
    },
  };
}
