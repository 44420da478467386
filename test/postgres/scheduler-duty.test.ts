/**
 * Duties that one scheduler at a time does for all (creating scheduled runs, reaping dead
 * workers' tasks): held by a transaction-level advisory lock, so that another scheduler
 * skips them while they are held and takes them over as soon as the holder is gone, or
 * has stalled inside it for longer than its session's idle limit (src/db/session-limits.ts).
 */
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { sessionLimits } from '../../src/db/session-limits.js';
import { asSoleScheduler, Duty } from '../../src/scheduler/duty.js';
import { testDatabase, type TestDatabase } from '../support/db.js';

let database: TestDatabase;
let other: Database;

beforeAll(async () => {
  database = await testDatabase();
  // A second pool: another scheduler's connections.
  other = await openDatabase({ databaseUrl: database.url!, home: '', migrate: false, onPoolError: () => {} });
  return () => other.close();
});

/** Starts holding `duty` on `db` until the returned release is called; resolves once it is held. */
async function hold(db: Database, duty: number) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held!: () => void;
  const isHeld = new Promise<void>((resolve) => (held = resolve));
  const done = asSoleScheduler(db.db, duty, async () => {
    held();
    await released;
    return 'held';
  });
  await Promise.race([isHeld, done]);
  return { release, done };
}

/** Asks for `duty` every 50 ms, as a scheduler's passes would, until it is had; the wait it took. */
async function takeOver(duty: number): Promise<number> {
  const began = Date.now();
  while ((await asSoleScheduler(other.db, duty, async () => true)) !== true) {
    if (Date.now() - began > 10_000) throw new Error('the duty was not released within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Date.now() - began;
}

describe('scheduler duties on PostgreSQL', () => {
  it('are done by one scheduler at a time; the others skip them, and take over once the holder is done', async () => {
    const holder = await hold(database, Duty.createRuns);
    let ran = false;
    expect(await asSoleScheduler(other.db, Duty.createRuns, async () => (ran = true))).toBeUndefined();
    expect(ran).toBe(false);
    // Another duty is not held.
    expect(await asSoleScheduler(other.db, Duty.reap, async () => 'reaped')).toBe('reaped');
    holder.release();
    expect(await holder.done).toBe('held');
    expect(await asSoleScheduler(other.db, Duty.createRuns, async () => 'created')).toBe('created');
  });

  it('pass to another scheduler when the holder dies: its connection closes and the lock goes with it', async () => {
    const holder = await hold(database, Duty.createRuns);
    expect(await asSoleScheduler(other.db, Duty.createRuns, async () => 'created')).toBeUndefined();
    // kill -9 of the holder, as PostgreSQL sees it: its session ends.
    await execute(
      other.db,
      sql`select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and objid = ${Duty.createRuns} and database = (select oid from pg_database where datname = current_database())`,
    );
    await takeOver(Duty.createRuns);
    // The dead holder's transaction cannot commit anything.
    holder.release();
    await expect(holder.done).rejects.toThrow();
  });

  it("are taken from a holder that stalls inside the duty, within its session's idle limit", async () => {
    // A scheduler with a 3 s heartbeat timeout: its sessions end a transaction idle for 2 s.
    const stalled = await openDatabase({
      databaseUrl: database.url!,
      home: '',
      migrate: false,
      session: sessionLimits(3_000),
      onPoolError: () => {},
    });
    try {
      const holder = await hold(stalled, Duty.reap);
      expect(await asSoleScheduler(other.db, Duty.reap, async () => 'reaped')).toBeUndefined();
      // The holder does nothing in its transaction (a frozen process): PostgreSQL ends its session.
      const waited = await takeOver(Duty.reap);
      expect(waited).toBeGreaterThanOrEqual(1_500);
      expect(waited).toBeLessThan(4_000);
      holder.release();
      await expect(holder.done).rejects.toThrow();
    } finally {
      await stalled.close();
    }
  });
});
