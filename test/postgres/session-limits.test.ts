/**
 * Every session on PostgreSQL carries limits derived from the heartbeat timeout
 * (src/db/session-limits.ts), so that a process that stalls inside a transaction, or a
 * query whose answer never comes, holds nothing for long, and the pool recovers.
 */
import { once } from 'node:events';
import net from 'node:net';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { isConnectionError } from '../../src/db/errors.js';
import { execute } from '../../src/db/execute.js';
import { sessionLimits, type SessionLimits } from '../../src/db/session-limits.js';
import { ConfigError } from '../../src/errors.js';
import { testDatabase } from '../support/db.js';

let url: string;

beforeAll(async () => {
  url = (await testDatabase()).url!;
});

async function open(session?: SessionLimits): Promise<Database> {
  const database = await openDatabase({
    databaseUrl: url,
    home: '',
    migrate: false,
    poolMax: 1,
    session,
    onPoolError: () => {},
  });
  onTestFinished(() => database.close());
  return database;
}

async function show(database: Database, setting: string): Promise<string> {
  const { rows } = await execute<{ value: string }>(
    database.db,
    sql.raw(`select current_setting('${setting}') as value`),
  );
  return rows[0]!.value;
}

describe('database session limits', () => {
  it("puts the limits of the heartbeat timeout on the pool's connections, in UTC", async () => {
    const database = await open(sessionLimits(3_000));
    expect(await show(database, 'idle_in_transaction_session_timeout')).toBe('2s');
    expect(await show(database, 'lock_timeout')).toBe('2s');
    expect(await show(database, 'statement_timeout')).toBe('10s');
    expect(await show(database, 'TimeZone')).toBe('UTC');
    expect(await show(database, 'tcp_keepalives_idle')).toBe('1');
    expect(await show(database, 'tcp_keepalives_interval')).toBe('1');
    expect(await show(database, 'tcp_keepalives_count')).toBe('10');
    const defaults = await open();
    expect(await show(defaults, 'idle_in_transaction_session_timeout')).toBe('5s');
    expect(await show(defaults, 'statement_timeout')).toBe('1min');
  });

  it('ends a transaction its process left idle, frees its locks, and the pool carries on', async () => {
    const stalled = await open(sessionLimits(3_000));
    const other = await open(sessionLimits(3_000));
    const key = 4_242_017;
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    const tx = stalled.db.transaction(async (t) => {
      await execute(t, sql`select pg_advisory_xact_lock(${key})`);
      locked();
      // The process stalls (SIGSTOP, a VM pause) while it holds the lock.
      await resumed;
      await execute(t, sql`select 1`);
    });
    const outcome = tx.then(
      () => undefined,
      (error: unknown) => error,
    );
    await holding;
    const started = Date.now();
    // Another process gets the lock once the server ended the stalled session (2 s).
    await expect
      .poll(
        async () =>
          (await execute<{ held: boolean }>(other.db, sql`select pg_try_advisory_lock(${key}) as held`)).rows[0]!.held,
        { timeout: 10_000, interval: 200 },
      )
      .toBe(true);
    expect(Date.now() - started).toBeLessThan(6_000);
    resume();
    const error = await outcome;
    expect(isConnectionError(error)).toBe(true);
    // Its pool (of one connection) dropped the dead connection and opens a fresh one.
    expect((await execute<{ one: number }>(stalled.db, sql`select 1 as one`)).rows).toEqual([{ one: 1 }]);
  });

  it('gives up on a query whose answer does not come, and the pool does not hand out its stuck connection', async () => {
    // The server is slow to answer (as when packets vanish): the client waits 1 s at most.
    const database = await open({ ...sessionLimits(3_000), queryMs: 1_000 });
    const started = Date.now();
    const error = await database.db
      .transaction(async (t) => void (await execute(t, sql`select pg_sleep(6)`)))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isConnectionError(error)).toBe(true);
    // The next statement gets a fresh connection instead of queueing behind pg_sleep on the old one.
    expect((await execute<{ one: number }>(database.db, sql`select 1 as one`)).rows).toEqual([{ one: 1 }]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('gives up on a connect that gets no answer', async () => {
    // A listener that accepts the TCP connection and never speaks, as an address lost in a failover may.
    const silent = net.createServer(() => {}).listen(0, '127.0.0.1');
    onTestFinished(() => void silent.close());
    await once(silent, 'listening');
    const { port } = silent.address() as net.AddressInfo;
    const started = Date.now();
    const error = await openDatabase({
      databaseUrl: `postgres://me@127.0.0.1:${port}/nowhere`,
      home: '',
      session: sessionLimits(3_000),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^cannot connect to PostgreSQL at .*: timeout expired$/);
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
