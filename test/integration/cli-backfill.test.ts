/**
 * `updraft backfill` as a user runs it, in child processes on this file's database. On the
 * embedded database (pglite) the command runs the scheduler itself (with a standalone
 * running: test/pglite/cli-backfill-standalone.test.ts); on PostgreSQL a separate
 * `updraft scheduler` process runs the backfill while the command follows it. The tests
 * build on each other, in order.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { and, asc, count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { auditLog, backfillRuns, backfills, dagRuns } from '../../src/db/schema.js';
import { CLI_TEST_TIMEOUT, STACK_FRAME, useCli } from '../support/cli.js';
import { testDriver } from '../support/db.js';
import { startUpdraft, stopAll, type UpdraftProcess } from '../support/process.js';

const DAGS = `import { existsSync } from 'node:fs';
import { dag } from 'updraft';

// The 3rd of each month fails, unless the run's conf says the data was fixed.
export const daily = dag({ id: 'daily', schedule: '@daily', startDate: '2026-01-01' }, (t) => {
  const extract = t.task('extract', async (ctx) => {
    if (ctx.logicalDate.getUTCDate() === 3 && !ctx.conf.fixed) throw new Error('no data for the 3rd');
    return 1;
  });
  extract.then(t.task('load', async () => 2));
});

// Runs until the file conf.gate exists; an interrupted try is retried.
export const gated = dag({ id: 'gated', schedule: '@daily', startDate: '2026-01-01' }, (t) => {
  t.task('wait', { retries: 1, retryDelay: '0s' }, async (ctx) => {
    while (!existsSync(String(ctx.conf.gate))) await new Promise((r) => setTimeout(r, 20));
    return 'released';
  });
});
`;

const driver = testDriver();
const { updraft, setup } = useCli(
  { 'dags.ts': DAGS },
  { UPDRAFT_PROGRESS_INTERVAL: '100ms', UPDRAFT_SHUTDOWN_GRACE: '1s', UPDRAFT_HEARTBEAT_INTERVAL: '500ms' },
);
const ACTOR = `cli:${os.userInfo().username}`;

let scratch: string;
let scheduler: UpdraftProcess | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'updraft-backfill-'));
  // On PostgreSQL any running scheduler executes backfills: one runs beside the commands.
  if (driver === 'postgres') {
    scheduler = startUpdraft(['scheduler'], setup().env);
    await scheduler.ready;
  }
});

afterAll(async () => {
  await stopAll();
  await rm(scratch, { recursive: true, force: true });
});

/** Reads the children's database between runs (on PGlite it is one process's at a time). */
async function inDatabase<T>(fn: (db: Database['db']) => Promise<T>): Promise<T> {
  const database = await setup().child.open();
  try {
    return await fn(database.db);
  } finally {
    await database.close();
  }
}

const JAN_1_TO_5 = ['--from', '2026-01-01', '--to', '2026-01-05'];

describe('updraft backfill', () => {
  it('--dry-run prints every date and what would happen to it, and writes nothing', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const result = await updraft(['backfill', 'daily', ...JAN_1_TO_5, '--dry-run']);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain('2026-01-01T00:00:00Z  create a run');
    expect(result.stdout).toContain('2026-01-05T00:00:00Z  create a run');
    expect(result.stdout).toContain(
      'dry run: 5 dates, 5 to create, 0 to clear and run again, 0 left alone; nothing was changed',
    );
    const stored = await inDatabase(async (db) => ({
      backfills: (await db.select({ n: count() }).from(backfills))[0]!.n,
      runs: (await db.select({ n: count() }).from(dagRuns))[0]!.n,
    }));
    expect(stored).toEqual({ backfills: 0, runs: 0 });
  });

  it('runs every date, prints progress and a summary, and exits 1 when a date failed', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const result = await updraft(['backfill', 'daily', ...JAN_1_TO_5]);
    expect(result.stdout).toMatch(
      /created backfill (\d+) of daily: 2026-01-01T00:00:00Z to 2026-01-05T23:59:59.999Z, reprocess none, max 10 active runs/,
    );
    expect(result.stdout).toContain(
      driver === 'pglite'
        ? 'it runs in this process'
        : 'it runs by the schedulers running against this PostgreSQL database',
    );
    // Without a terminal: plain progress lines, the last one complete.
    expect(result.stderr).toMatch(
      /backfill \d+: 5\/5 dates done \(4 succeeded, 1 failed, 0 left alone\), 0 runs active, 0 tasks running/,
    );
    expect(result.stdout).toMatch(/backfill \d+ of daily completed in \d+s: 4 succeeded, 1 failed, 0 left alone/);
    expect(result.stdout).toContain('failed: 2026-01-03T00:00:00Z');
    expect(result.stdout).toContain(
      're-run the failed dates: updraft backfill daily --from 2026-01-01T00:00:00Z --to 2026-01-05T23:59:59.999Z --reprocess failed',
    );
    expect(result.code).toBe(1);

    const runs = await inDatabase((db) =>
      db
        .select({ runId: dagRuns.runId, type: dagRuns.runType, state: dagRuns.state })
        .from(dagRuns)
        .orderBy(asc(dagRuns.logicalDate)),
    );
    expect(runs.map((r) => `${r.runId} ${r.type} ${r.state}`)).toEqual([
      'backfill__2026-01-01T00:00:00+00:00 backfill success',
      'backfill__2026-01-02T00:00:00+00:00 backfill success',
      'backfill__2026-01-03T00:00:00+00:00 backfill failed',
      'backfill__2026-01-04T00:00:00+00:00 backfill success',
      'backfill__2026-01-05T00:00:00+00:00 backfill success',
    ]);
    const audit = await inDatabase((db) =>
      db.select({ actor: auditLog.actor }).from(auditLog).where(eq(auditLog.action, 'backfill.create')),
    );
    expect(audit).toEqual([{ actor: ACTOR }]);
  });

  it('--reprocess failed runs the failed date again, with the new conf', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const result = await updraft([
      'backfill',
      'daily',
      ...JAN_1_TO_5,
      '--reprocess',
      'failed',
      '--conf',
      '{"fixed": true}',
    ]);
    expect(result.stdout).toMatch(/completed in \d+s: 1 succeeded, 0 failed, 4 left alone/);
    expect(result.stdout).toContain('succeeded: 2026-01-03T00:00:00Z');
    expect(result).toMatchObject({ code: 0 });
    const [third] = await inDatabase((db) =>
      db
        .select({ state: dagRuns.state, conf: dagRuns.conf })
        .from(dagRuns)
        .where(eq(dagRuns.runId, 'backfill__2026-01-03T00:00:00+00:00')),
    );
    expect(third).toEqual({ state: 'success', conf: { fixed: true } });
  });

  it('Ctrl-C leaves the backfill running; the same command attaches to it and a different one is refused', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const gate = path.join(scratch, 'gate');
    const args = [
      'backfill',
      'gated',
      '--from',
      '2026-01-01',
      '--to',
      '2026-01-02',
      '--conf',
      JSON.stringify({ gate }),
    ];
    const first = startUpdraft(args, setup().env);
    await first.waitFor(/backfill \d+: 0\/2 dates done .*, 2 runs active, 2 tasks running/);
    first.signal('SIGINT');
    expect(await first.exited).toEqual({ code: 130, signal: null });
    const id = Number(/created backfill (\d+)/.exec(first.output())![1]);
    expect(first.output()).toContain(
      driver === 'pglite'
        ? `backfill ${id} is left as it is: it goes on when you run the same command again`
        : `backfill ${id} goes on in the scheduler; run the same command again to follow it`,
    );
    const [stored] = await inDatabase((db) =>
      db.select({ state: backfills.state }).from(backfills).where(eq(backfills.id, id)),
    );
    expect(stored).toEqual({ state: 'running' });

    const other = await updraft(['backfill', 'gated', '--from', '2026-01-01', '--to', '2026-01-03']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(
      `updraft: DAG 'gated' already has an unfinished backfill ${id} (running, 2026-01-01T00:00:00Z to 2026-01-02T23:59:59.999Z, reprocess none)`,
    );
    expect(other.stderr).not.toMatch(STACK_FRAME);

    const again = startUpdraft(args, setup().env);
    await again.waitFor(new RegExp(`attached to backfill ${id} of gated \\(running\\)`));
    await writeFile(gate, '');
    expect(await again.exited).toEqual({ code: 0, signal: null });
    expect(again.output()).toMatch(
      new RegExp(`backfill ${id} of gated completed in \\d+s: 2 succeeded, 0 failed, 0 left alone`),
    );
    const created = await inDatabase((db) =>
      db
        .select({ n: count() })
        .from(backfills)
        .innerJoin(backfillRuns, eq(backfillRuns.backfillId, backfills.id))
        .where(eq(backfills.id, id)),
    );
    expect(created[0]!.n).toBe(2);
  });

  it('--cancel-on-interrupt: Ctrl-C cancels the backfill and stops its runs', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const args = [
      'backfill',
      'gated',
      '--from',
      '2026-02-01',
      '--to',
      '2026-02-03',
      '--max-active-runs',
      '2',
      '--conf',
      JSON.stringify({ gate: path.join(scratch, 'closed') }),
      '--cancel-on-interrupt',
    ];
    const run = startUpdraft(args, setup().env);
    await run.waitFor(/backfill \d+: 0\/3 dates done .*, 2 runs active, 2 tasks running/);
    run.signal('SIGINT');
    expect(await run.exited).toEqual({ code: 130, signal: null });
    const id = Number(/created backfill (\d+)/.exec(run.output())![1]);
    expect(run.output()).toContain(`backfill ${id} cancelled`);
    const stored = await inDatabase(async (db) => ({
      backfill: (await db.select({ state: backfills.state }).from(backfills).where(eq(backfills.id, id)))[0],
      runs: (await db.select({ state: dagRuns.state }).from(dagRuns).where(eq(dagRuns.backfillId, id))).map(
        (r) => r.state,
      ),
    }));
    expect(stored).toEqual({ backfill: { state: 'cancelled' }, runs: ['failed', 'failed'] });
  });

  it('list, show, pause, resume and cancel manage stored backfills', { timeout: CLI_TEST_TIMEOUT }, async () => {
    // Its one active run waits on a gate that never opens, until the backfill is cancelled.
    const held = [
      'backfill',
      'gated',
      '--from',
      '2026-01-10',
      '--to',
      '2026-01-12',
      '--max-active-runs',
      '1',
      '--conf',
      JSON.stringify({ gate: path.join(scratch, 'never') }),
    ];
    const detached = await updraft([...held, '--detach']);
    expect(detached).toMatchObject({ code: 0 });
    const id = Number(/created backfill (\d+)/.exec(detached.stdout)![1]);
    expect(detached.stdout).toContain('detached:');

    expect(await updraft(['backfill', 'pause', String(id)])).toMatchObject({
      code: 0,
      stdout: `backfill ${id} of gated paused: no new date starts until it is resumed\n`,
    });
    const list = await updraft(['backfill', 'list', '--dag', 'gated']);
    // The range in the DAG's timezone (UTC here), with its offset.
    expect(list.stdout).toMatch(
      new RegExp(`^${id} +gated +2026-01-10T00:00:00Z +2026-01-12T23:59:59.999Z +none +paused`, 'm'),
    );
    // Attaching to a paused backfill without a terminal resumes it only with --yes.
    const paused = await updraft(held);
    expect(paused).toMatchObject({ code: 1 });
    expect(paused.stdout).toContain(`backfill ${id} stays paused ('updraft backfill resume ${id}' resumes it)`);
    expect(await updraft(['backfill', 'resume', String(id)])).toMatchObject({
      code: 0,
      stdout: `backfill ${id} of gated resumed\n`,
    });
    const resumedAgain = await updraft(['backfill', 'resume', String(id)]);
    expect(resumedAgain).toMatchObject({ code: 1 });
    expect(resumedAgain.stderr).toContain(
      `updraft: backfill ${id} of DAG 'gated' is running: only a paused backfill can be resumed`,
    );

    expect(await updraft(['backfill', 'cancel', String(id)])).toMatchObject({
      code: 0,
      stdout: `backfill ${id} of gated cancelled\n`,
    });
    const show = await updraft(['backfill', 'show', String(id)]);
    expect(show).toMatchObject({ code: 0 });
    expect(show.stdout).toContain(`backfill ${id} of gated: cancelled`);
    const actions = await inDatabase((db) =>
      db
        .select({ action: auditLog.action, actor: auditLog.actor })
        .from(auditLog)
        .where(and(sql`${auditLog.details}->>'backfillId' = ${String(id)}`, sql`${auditLog.action} like 'backfill.%'`)),
    );
    expect(actions.map((a) => a.action).sort()).toEqual([
      'backfill.cancel',
      'backfill.create',
      'backfill.pause',
      'backfill.resume',
    ]);
    expect(new Set(actions.map((a) => a.actor))).toEqual(new Set([ACTOR]));
  });

  it('refuses bad input naming the flag, without a stack trace', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const badDate = await updraft(['backfill', 'daily', '--from', '2026-13-01', '--to', '2026-01-05']);
    expect(badDate).toMatchObject({ code: 1 });
    expect(badDate.stderr).toContain("updraft: from: cannot read date '2026-13-01': month 13 is out of range");
    const badReprocess = await updraft(['backfill', 'daily', ...JAN_1_TO_5, '--reprocess', 'sometimes']);
    expect(badReprocess).toMatchObject({ code: 2 });
    expect(badReprocess.stderr).toContain(
      "option '--reprocess <which>' argument 'sometimes' is invalid. Allowed choices are none, failed, completed.",
    );
    const missing = await updraft(['backfill', 'daily', '--from', '2026-01-01']);
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toContain("required option '--to <date>' not specified");
    const unknown = await updraft(['backfill', 'nope', ...JAN_1_TO_5]);
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toContain("updraft: no DAG with id 'nope'");
    const badId = await updraft(['backfill', 'show', 'x']);
    expect(badId).toMatchObject({ code: 2 });
    expect(badId.stderr).toContain("a backfill id is a positive whole number ('updraft backfill list'), got 'x'");
    for (const r of [badDate, badReprocess, missing, unknown, badId]) expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it('refuses a range with no complete schedule interval, naming the range and the schedule, and creates nothing', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const stored = () => inDatabase(async (db) => (await db.select({ n: count() }).from(backfills))[0]!.n);
    const before = await stored();
    const empty = await updraft([
      'backfill',
      'daily',
      '--from',
      '2026-02-01T06:00',
      '--to',
      '2026-02-01T18:00',
      '--yes',
    ]);
    expect(empty).toMatchObject({ code: 1, stdout: '' });
    expect(empty.stderr).toBe(
      "updraft: nothing to backfill: no complete schedule interval of DAG 'daily' (schedule @daily, timezone UTC) has a logical date from 2026-02-01T06:00:00Z to 2026-02-01T18:00:00Z\n",
    );
    expect(await stored()).toBe(before);

    // One date is one date.
    const one = await updraft(['backfill', 'daily', '--from', '2026-02-01', '--to', '2026-02-01', '--dry-run']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain(
      'dry run: 1 date, 1 to create, 0 to clear and run again, 0 left alone; nothing was changed',
    );
  });
});
