/**
 * A PostgreSQL server of the test's own (initdb in a temp folder, on a free port), for
 * faults that would break every other test file on the shared server: a restart. It uses
 * the binaries of the installed server (`pg_config --bindir`); as root, it runs them as
 * the `postgres` user, since PostgreSQL refuses to run as root.
 *
 *   const server = await startPrivatePostgres();
 *   await server.stop({ mode: 'immediate' }); ... await server.start();
 *   await server.destroy();
 */
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PrivatePostgres {
  /** A temp folder removed with the server, e.g. for an Updraft home. */
  scratch: string;
  /** The URL of database `name` on this server (created with createDatabase). */
  url(name: string): string;
  createDatabase(name: string): Promise<void>;
  /**
   * Stops the server. 'fast' (the default): sessions are ended (57P01), as in a restart by
   * an administrator. 'immediate': every server process quits at once, no session told,
   * as in a crash; the next start recovers from the WAL.
   */
  stop(options?: { mode?: 'fast' | 'immediate' }): Promise<void>;
  start(): Promise<void>;
  /** Stops the server if it runs and removes its folder. */
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = (await run('pg_config', ['--bindir'])).stdout.trim();
  const asRoot = process.getuid?.() === 0;
  const tool = (name: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, name), ...args]) : run(path.join(bin, name), args);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'updraft-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    await chown(dir, uid, Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  }
  const data = path.join(dir, 'data');
  const port = await freePort();
  await tool('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  // No fsync: the test restarts the server, it does not crash the machine.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const pgCtl = (args: string[]) =>
    tool('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '30', ...args]);
  let running = false;
  const server: PrivatePostgres = {
    scratch: path.join(dir, 'scratch'),
    url: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: server.url('postgres') });
      await client.connect();
      try {
        await client.query(`create database "${name}"`);
      } finally {
        await client.end();
      }
    },
    async stop({ mode = 'fast' } = {}) {
      await pgCtl(['-m', mode, 'stop']);
      running = false;
    },
    async start() {
      await pgCtl(['-o', options, 'start']);
      running = true;
    },
    async destroy() {
      if (running) await server.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  await mkdir(server.scratch);
  await server.start();
  return server;
}
