/**
 * While `standalone` holds the embedded database, `updraft backfill` hands it the backfill
 * through its API, so that standalone runs it (the other commands reach the database
 * through its socket, src/db/socket/): standalone writes
 * its address and a random token to `<UPDRAFT_HOME>/standalone.json` (mode 0600, so only
 * this machine's user reads it), and removes the file when it stops.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface LocalServer {
  url: string;
  token: string;
  pid: number;
}

function linkFile(home: string): string {
  return path.join(home, 'standalone.json');
}

/** A fresh token for this process's server. */
export function localToken(): string {
  return `updl_${randomBytes(32).toString('base64url')}`;
}

/**
 * Writes the link for the CLI, for a server listening on `host`:`port`; returns its removal.
 * The CLI dials loopback (the token is accepted from this machine only), so a server bound
 * to one other address publishes nothing.
 */
export async function publishLocalServer(
  home: string,
  host: string,
  port: number,
  token: string,
): Promise<() => Promise<void>> {
  const loopback =
    host === '::' || host === '::1'
      ? '[::1]'
      : host === '0.0.0.0' || host === 'localhost' || host.startsWith('127.')
        ? '127.0.0.1'
        : undefined;
  if (!loopback) return async () => {};
  const file = linkFile(home);
  const link: LocalServer = { url: `http://${loopback}:${port}`, token, pid: process.pid };
  // Created afresh: an existing file would keep its own mode, perhaps readable by others.
  await rm(file, { force: true });
  await writeFile(file, `${JSON.stringify(link)}\n`, { mode: 0o600, flag: 'wx' });
  return () => rm(file, { force: true });
}

/**
 * The standalone serving this home's embedded database, or null when none runs: a file
 * left by a killed one is ignored, even when its pid now belongs to another process.
 */
export async function findLocalServer(home: string): Promise<LocalServer | null> {
  let link: LocalServer;
  try {
    link = JSON.parse(await readFile(linkFile(home), 'utf8')) as LocalServer;
    process.kill(link.pid, 0);
  } catch {
    return null;
  }
  try {
    const health = await fetch(`${link.url}/health`, { signal: AbortSignal.timeout(2_000) });
    return health.ok ? link : null;
  } catch {
    return null;
  }
}
