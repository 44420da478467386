/**
 * The embedded database is one process's. While `standalone` holds it, CLI commands that
 * must change state (a backfill) go through standalone's API instead: standalone writes
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

/** Writes the link for the CLI; returns its removal. */
export async function publishLocalServer(home: string, url: string, token: string): Promise<() => Promise<void>> {
  const file = linkFile(home);
  const link: LocalServer = { url, token, pid: process.pid };
  await writeFile(file, `${JSON.stringify(link)}\n`, { mode: 0o600 });
  return () => rm(file, { force: true });
}

/** The standalone serving this home's embedded database, or null when none runs (a file left by a killed one is ignored). */
export async function findLocalServer(home: string): Promise<LocalServer | null> {
  let link: LocalServer;
  try {
    link = JSON.parse(await readFile(linkFile(home), 'utf8')) as LocalServer;
  } catch {
    return null;
  }
  try {
    process.kill(link.pid, 0);
  } catch (error) {
    // EPERM: it lives, under another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return link;
}
