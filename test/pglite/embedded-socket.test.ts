/**
 * The socket a server process serves its embedded database on (src/db/socket/): what a
 * client through it and the server itself see of each other's transactions and
 * notifications, and who may connect. Clients here are node-postgres, as the CLI's are.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { embeddedSocket, socketHolder } from '../../src/db/socket/index.js';
import { holdLimits } from '../../src/db/socket/session.js';
import { testChildDatabase } from '../support/db.js';

let home: string;
let server: Database;
const clients: pg.Client[] = [];

async function client(of = home): Promise<pg.Client> {
  const socket = embeddedSocket(of)!;
  const c = new pg.Client({ host: socket.dir, port: socket.port, user: 'postgres', database: 'postgres' });
  c.on('error', () => {});
  await c.connect();
  clients.push(c);
  return c;
}

const poolNames = async () =>
  (await server.pglite!.query<{ name: string }>('select name from pools order by name')).rows.map((r) => r.name);

beforeAll(async () => {
  const child = await testChildDatabase();
  home = child.env.UPDRAFT_HOME!;
  server = await openDatabase({ home, migrate: false, serve: true });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  await server.close();
});

describe('the embedded database served on a socket', () => {
  it('is reachable by its owner only: the socket is 0600 in a 0700 folder of the home', async () => {
    const socket = embeddedSocket(home)!;
    expect(server.socketFile).toBe(socket.file);
    expect(path.dirname(socket.file)).toBe(path.join(home, 'socket'));
    expect((await stat(socket.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(socket.file)).mode & 0o777).toBe(0o600);
    // Beside it, what the holder runs, for `updraft backfill` (no scheduler unless told).
    expect(await socketHolder(home)).toEqual({ pid: process.pid, scheduler: false });
  });

  it("runs a client's transaction alone: the server's statements wait for its end and never see it half done", async () => {
    const c = await client();
    await c.query('begin');
    await c.query(`insert into pools (name, slots, description) values ('socket_pool', 3, 'from a client')`);
    let seen: string[] | undefined;
    const serverRead = poolNames().then((names) => (seen = names));
    // The client goes on inside its transaction while the server's read waits.
    expect((await c.query(`select count(*)::int as n from pools where name = 'socket_pool'`)).rows).toEqual([{ n: 1 }]);
    expect(seen).toBeUndefined();
    await c.query('rollback');
    await serverRead;
    expect(seen).not.toContain('socket_pool');

    // The other way round: a client's statement waits for a transaction of the server.
    let inside: (() => void) | undefined;
    const serverTx = server.pglite!.transaction(async (tx) => {
      await tx.query(`insert into pools (name, slots, description) values ('server_pool', 1, '')`);
      await new Promise<void>((resolve) => (inside = resolve));
      await tx.rollback();
    });
    while (!inside) await new Promise((resolve) => setImmediate(resolve));
    const clientRead = c.query<{ n: number }>(`select count(*)::int as n from pools where name = 'server_pool'`);
    inside();
    await serverTx;
    expect((await clientRead).rows).toEqual([{ n: 0 }]);
  });

  it("passes a client's NOTIFY to the server's listeners, and the server's to a LISTENing client, whose UNLISTEN leaves the server's", async () => {
    const heard: string[] = [];
    let onHeard: (() => void) | undefined;
    const unlisten = await server.pglite!.listen('updraft_runs', (payload) => {
      heard.push(payload);
      onHeard?.();
    });
    const notifier = await client();
    const gotFromClient = new Promise<void>((resolve) => (onHeard = resolve));
    await notifier.query(`select pg_notify('updraft_runs', 'from the cli')`);
    await gotFromClient;
    expect(heard).toEqual(['from the cli']);

    const listener = await client();
    const toClient = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
    await listener.query('listen "updraft_runs"');
    await server.pglite!.query(`select pg_notify('updraft_runs', 'from the server')`);
    expect(await toClient).toMatchObject({ channel: 'updraft_runs', payload: 'from the server' });
    // The notifier did not LISTEN: it got nothing of its own NOTIFY.
    const notifierHeard: unknown[] = [];
    notifier.on('notification', (n) => notifierHeard.push(n));

    await listener.query('unlisten *');
    await listener.end();
    const stillHeard = new Promise<void>((resolve) => (onHeard = resolve));
    await notifier.query(`select pg_notify('updraft_runs', 'after unlisten')`);
    await stillHeard;
    expect(heard).toEqual(['from the cli', 'from the server', 'after unlisten']);
    expect(notifierHeard).toEqual([]);
    await unlisten();
  });

  it('rolls back the transaction of a client that disconnects in it, and the server goes on', async () => {
    const c = await client();
    await c.query('begin');
    await c.query(`insert into pools (name, slots, description) values ('left_open', 1, '')`);
    const ended = new Promise((resolve) => c.once('end', resolve));
    // The connection drops without a COMMIT (a killed CLI).
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await ended;
    expect(await poolNames()).not.toContain('left_open');
  });
});

describe('a client holding the database too long', () => {
  it('gives it up before the executor would give up its tries: by default at most 10 s idle, half the heartbeat timeout less the interval', () => {
    expect(holdLimits({ heartbeatMs: 5_000, heartbeatTimeoutMs: 30_000 })).toEqual({ idleMs: 10_000, totalMs: 12_500 });
    expect(holdLimits({ heartbeatMs: 1_000, heartbeatTimeoutMs: 9_000 })).toEqual({ idleMs: 4_000, totalMs: 4_000 });
    expect(holdLimits({ heartbeatMs: 5_000, heartbeatTimeoutMs: 300_000 })).toEqual({
      idleMs: 10_000,
      totalMs: 20_000,
    });
  });

  it('is disconnected and rolled back once its transaction held the database for the whole time allowed, though it sent statements all along', async () => {
    const other = (await testChildDatabase()).env.UPDRAFT_HOME!;
    let warned: (message: string) => void = () => {};
    const warning = new Promise<string>((resolve) => (warned = resolve));
    const held = await openDatabase({
      home: other,
      migrate: false,
      serve: true,
      serving: { scheduler: true, limits: { idleMs: 60_000, totalMs: 300 } },
      onWarning: (m) => warned(m),
    });
    try {
      expect(await socketHolder(other)).toEqual({ pid: process.pid, scheduler: true });
      const c = await client(other);
      await c.query('begin');
      await c.query(`insert into pools (name, slots, description) values ('held_long', 1, '')`);
      // Statement after statement, each well within the idle limit: only the total limit ends it.
      const start = Date.now();
      const busy = async () => {
        while (Date.now() - start < 30_000) await c.query('select 1');
      };
      // The connection drops (an EPIPE or an ended connection, by timing).
      await expect(busy()).rejects.toThrow();
      expect(await warning).toMatch(
        /held the database in one transaction for 0\.3s.*disconnected and its transaction rolled back/,
      );
      const names = await held.pglite!.query<{ name: string }>('select name from pools');
      expect(names.rows.map((r) => r.name)).not.toContain('held_long');
    } finally {
      await held.close();
    }
  });
});
