/**
 * /api/v1/backfills through the real authentication (API tokens): creating a backfill
 * (a second for the same DAG is a 409, bad input a 400 naming the body field), the dry
 * run writing nothing, one backfill with its progress and dates, pausing, unpausing and
 * cancelling (audited), and who may do what. No scheduler runs: the tests take the
 * scheduler's backfill step themselves, so every state is the one they set up.
 */
import { count, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { actorOf, createToken, createUser } from '../../src/auth/index.js';
import { authenticate, requireRead, requireUser } from '../../src/web/auth/middleware.js';
import { advanceBackfills } from '../../src/backfill/advance.js';
import type { Database } from '../../src/db/client.js';
import { auditLog, backfillRuns, backfills, dagRuns, dags } from '../../src/db/schema.js';
import { DagProcessor } from '../../src/processor/processor.js';
import { DagCache } from '../../src/state/dag-cache.js';
import { runValues } from '../../src/state/new-run.js';
import { apiRoutes } from '../../src/web/api/index.js';
import { makeDagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';

const DAGS = `import { dag } from 'updraft';
export const daily = dag({ id: 'bf_daily', schedule: '@daily', startDate: '2025-01-01', params: { label: { type: 'string', default: 'x' } } }, (t) => {
  t.task('a', async () => 1).then(t.task('b', async () => 2));
});
export const zoned = dag({ id: 'bf_zoned', schedule: '@daily', timezone: 'Europe/Paris', startDate: '2025-01-01' }, (t) => void t.task('a', async () => 1));
export const other = dag({ id: 'bf_other', schedule: '@daily', startDate: '2025-01-01' }, (t) => void t.task('a', async () => 1));
export const manual = dag({ id: 'bf_manual', schedule: null }, (t) => void t.task('a', async () => 1));
`;

let database: Database;
let cache: DagCache;
let app: Hono;
let operator: Record<string, string>;
let viewer: Record<string, string>;

beforeAll(async () => {
  database = await testDatabase();
  cache = new DagCache(database.db);
  const folder = await makeDagFolder({ 'bf.ts': DAGS });
  try {
    await new DagProcessor(database.db, {
      dagsFolder: folder.path,
      pausedAtCreation: true,
      importTimeoutMs: 10_000,
      dagsPollMs: 1_000,
    }).refresh();
  } finally {
    await folder.cleanup();
  }
  await createUser(database.db, { username: 'olga', role: 'operator', password: 'op3rator-pass-word', actor: 'test' });
  await createUser(database.db, { username: 'victor', role: 'viewer', password: 'v1ewer-pass-word', actor: 'test' });
  operator = { Authorization: `Bearer ${(await createToken(database.db, { username: 'olga', actor: 'test' })).token}` };
  viewer = { Authorization: `Bearer ${(await createToken(database.db, { username: 'victor', actor: 'test' })).token}` };
  // As src/web/server.ts mounts it.
  app = new Hono();
  app.use('*', authenticate(database.db, { readOpen: true, sessionTtlMs: 3_600_000 }));
  app.route(
    '/',
    apiRoutes(database.db, {
      read: requireRead(true),
      operate: requireUser('operator'),
      actor: (c) => actorOf(c.get('user')!),
      checkResponses: true,
      onError: (e) => {
        throw e;
      },
    }),
  );
});

interface Answer {
  status: number;
  body: any;
}

async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = operator,
): Promise<Answer> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...headers } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await app.request(`/api/v1${path}`, init);
  return { status: res.status, body: await res.json() };
}

async function rows(): Promise<{ backfills: number; dates: number; runs: number; audit: number }> {
  const n = async (table: typeof backfills | typeof backfillRuns | typeof dagRuns | typeof auditLog) =>
    (await database.db.select({ n: count() }).from(table))[0]!.n;
  return {
    backfills: await n(backfills),
    dates: await n(backfillRuns),
    runs: await n(dagRuns),
    audit: await n(auditLog),
  };
}

/** A run of `dagId` at January `d` 2026 (UTC), as an earlier schedule left it. */
async function history(dagId: string, d: number, state: 'success' | 'failed' | 'running'): Promise<void> {
  const [dag] = await database.db
    .select({ id: dags.id, versionId: dags.latestVersionId })
    .from(dags)
    .where(eq(dags.dagId, dagId));
  const day = (n: number) => new Date(Date.UTC(2026, 0, n));
  const info = { logicalDate: day(d), interval: { start: day(d), end: day(d + 1) }, runAfter: day(d + 1) };
  await database.db.insert(dagRuns).values({ ...runValues(dag!.id, dag!.versionId!, 'scheduled', info, {}), state });
}

const daily = { dag_id: 'bf_daily', from_date: '2026-01-01', to_date: '2026-01-05' };

describe('POST /backfills', () => {
  it('creates a backfill that the list and GET show, recorded in the audit log', async () => {
    const created = await api('POST', '/backfills', { ...daily, max_active_runs: 2, dag_run_conf: { label: 'again' } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      dag_id: 'bf_daily',
      from_date: '2026-01-01T00:00:00.000Z',
      // A day without a time is that whole day.
      to_date: '2026-01-05T23:59:59.999Z',
      reprocess_behavior: 'none',
      max_active_runs: 2,
      run_backwards: false,
      dag_run_conf: { label: 'again' },
      state: 'running',
      created_by: 'user:olga',
      completed_at: null,
      planned: 0,
      plan_done: false,
      // Nothing planned yet: the scheduler writes the plan.
      progress: { total: 0, plan_done: false, pending: 0, queued: 0, running: 0, succeeded: 0, failed: 0 },
    });
    const id = created.body.id;

    const list = await api('GET', '/backfills', undefined, {});
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ total_entries: 1, backfills: [{ id, dag_id: 'bf_daily', state: 'running' }] });
    expect(list.body.backfills[0].progress).toBeUndefined();
    const { progress: _progress, ...listed } = created.body;
    expect(list.body.backfills[0]).toEqual(listed);
    expect((await api('GET', `/backfills/${id}`, undefined, {})).body).toEqual(created.body);

    const audit = await api('GET', '/eventLogs?event=backfill.create');
    expect(audit.body.event_logs).toMatchObject([
      { owner: 'user:olga', dag_id: 'bf_daily', extra: { backfillId: id, reprocess: 'none', maxActiveRuns: 2 } },
    ]);
  });

  it('refuses a second unfinished backfill of the same DAG with a 409 naming the first', async () => {
    const [first] = (await api('GET', '/backfills?dag_id=bf_daily&state=running')).body.backfills;
    const before = await rows();
    const again = await api('POST', '/backfills', { ...daily, to_date: '2026-01-09' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      title: 'Conflict',
      detail: expect.stringContaining(`DAG 'bf_daily' already has an unfinished backfill (${first.id}, running)`),
    });
    expect(await rows()).toEqual(before);
  });

  it('answers bad input with a 400 naming the body field, and creates nothing', async () => {
    const before = await rows();
    const cases: [unknown, string, RegExp][] = [
      [
        { ...daily, dag_id: 'bf_zoned', from_date: '2026-01-32' },
        'from_date',
        /^from_date: must be an ISO 8601 date .*\(there is no day 32 in 2026-01\)$/,
      ],
      [{ ...daily, dag_id: 'bf_zoned', to_date: 'yesterday' }, 'to_date', /^to_date: must be an ISO 8601 date/],
      [{ ...daily, dag_id: 'bf_zoned', from_date: '0000-06-01' }, 'from_date', /it is not within years 1 to 9999$/],
      [
        { ...daily, dag_id: 'bf_zoned', dag_run_conf: { note: 'a\u0000b' } },
        'dag_run_conf.note',
        /^dag_run_conf\.note: must not contain NUL characters/,
      ],
      [{ ...daily, dag_id: 'bf_zoned', max_active_runs: 2147483648 }, 'max_active_runs', /^max_active_runs: /],
      [{ ...daily, dag_id: 'bf_zoned', from_date: '2026-01-09' }, 'from_date', /^the range is empty/],
      [
        { ...daily, dag_id: 'bf_zoned', from_date: '2099-01-01', to_date: '2099-02-01' },
        'from_date',
        /is in the future/,
      ],
      [
        { ...daily, dag_id: 'bf_zoned', from_date: '2026-01-01T06:00', to_date: '2026-01-01T18:00' },
        'from_date',
        /^nothing to backfill: no complete schedule interval of DAG 'bf_zoned' \(schedule @daily, timezone Europe\/Paris\) has a logical date from 2026-01-01T06:00:00\+01:00 to 2026-01-01T18:00:00\+01:00$/,
      ],
      [
        { ...daily, dag_id: 'bf_zoned', reprocess_behavior: 'sometimes' },
        'reprocess_behavior',
        /^reprocess_behavior: must be one of none, failed, completed$/,
      ],
      [{ ...daily, dag_id: 'bf_zoned', max_active_runs: 0 }, 'max_active_runs', /^max_active_runs: /],
      [{ ...daily, dag_id: 'bf_zoned', max_active_runs: 1.5 }, 'max_active_runs', /^max_active_runs: /],
      [
        { ...daily, dag_run_conf: { label: 3 } },
        'dag_run_conf.label',
        /^conf does not match the params of DAG 'bf_daily': label: /,
      ],
      [{ ...daily, dag_run_conf: [] }, 'dag_run_conf', /^dag_run_conf: /],
      [{ ...daily, from_date: undefined }, 'from_date', /^from_date: /],
      [
        { ...daily, dag_id: 'bf_zoned', conf: {} },
        'conf',
        /^conf: unknown request body \(expected dag_id, from_date, to_date, run_backwards, dag_run_conf, reprocess_behavior, max_active_runs\)$/,
      ],
    ];
    for (const [body, field, detail] of cases) {
      const answer = await api('POST', '/backfills', body);
      expect({ body, status: answer.status, field: answer.body.field }).toEqual({ body, status: 400, field });
      expect(answer.body.detail).toMatch(detail);
    }
    expect(await api('POST', '/backfills', { ...daily, dag_id: 'nope' })).toMatchObject({
      status: 404,
      body: { detail: expect.stringContaining("no DAG with id 'nope'") },
    });
    expect(await api('POST', '/backfills', { ...daily, dag_id: 'bf_manual' })).toMatchObject({
      status: 400,
      body: { detail: expect.stringContaining("DAG 'bf_manual' has no schedule intervals to backfill") },
    });
    expect(await rows()).toEqual(before);
  });

  it('reads dates in the DAG’s timezone', async () => {
    const created = await api('POST', '/backfills', {
      dag_id: 'bf_zoned',
      from_date: '2026-01-01',
      to_date: '2026-01-02T00:00',
    });
    expect(created.body).toMatchObject({ from_date: '2025-12-31T23:00:00.000Z', to_date: '2026-01-01T23:00:00.000Z' });
    expect((await api('POST', `/backfills/${created.body.id}/cancel`)).status).toBe(200);
  });
});

describe('POST /backfills/dry_run', () => {
  it('tells what each date would get, given the runs that exist, and writes nothing', async () => {
    await history('bf_other', 2, 'failed');
    await history('bf_other', 3, 'running');
    const before = await rows();
    const body = { dag_id: 'bf_other', from_date: '2026-01-02', to_date: '2026-01-04', reprocess_behavior: 'failed' };
    const dry = await api('POST', '/backfills/dry_run', body);
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      total_entries: 3,
      backfills: [
        {
          logical_date: '2026-01-02T00:00:00.000Z',
          action: 'clear',
          reason: null,
          existing_run_id: 'scheduled__2026-01-02T00:00:00+00:00',
          existing_state: 'failed',
        },
        {
          logical_date: '2026-01-03T00:00:00.000Z',
          action: 'skip',
          reason: 'in flight',
          existing_run_id: 'scheduled__2026-01-03T00:00:00+00:00',
          existing_state: 'running',
        },
        {
          logical_date: '2026-01-04T00:00:00.000Z',
          action: 'create',
          reason: null,
          existing_run_id: null,
          existing_state: null,
        },
      ],
    });
    expect(await rows()).toEqual(before);
    // Even with an unfinished backfill of the DAG, and bad input is refused as by POST /backfills.
    expect(
      (await api('POST', '/backfills/dry_run', { ...daily, reprocess_behavior: 'completed' })).body.total_entries,
    ).toBe(5);
    expect(await api('POST', '/backfills/dry_run', { ...body, to_date: '2026-13-01' })).toMatchObject({
      status: 400,
      body: { field: 'to_date' },
    });
    expect(await rows()).toEqual(before);
  });
});

describe('one backfill and its dates', () => {
  it('shows its progress and its dates with their runs, paged and by run state', async () => {
    const [b] = (await api('GET', '/backfills?dag_id=bf_daily&state=running')).body.backfills;
    // The scheduler's step: plan the five dates and start two (max_active_runs 2).
    await advanceBackfills(database.db, cache);
    const one = await api('GET', `/backfills/${b.id}`);
    expect(one.body).toMatchObject({
      planned: 5,
      plan_done: true,
      progress: { total: 5, plan_done: true, pending: 3, skipped: 0, queued: 2, running: 0, succeeded: 0, failed: 0 },
    });

    const dates = await api('GET', `/backfills/${b.id}/dates?limit=3`);
    expect(dates.body).toEqual({
      total_entries: 5,
      dates: [
        {
          ordinal: 0,
          logical_date: '2026-01-01T00:00:00.000Z',
          outcome: 'created',
          reason: null,
          dag_run_id: 'backfill__2026-01-01T00:00:00+00:00',
          run_state: 'queued',
        },
        {
          ordinal: 1,
          logical_date: '2026-01-02T00:00:00.000Z',
          outcome: 'created',
          reason: null,
          dag_run_id: 'backfill__2026-01-02T00:00:00+00:00',
          run_state: 'queued',
        },
        {
          ordinal: 2,
          logical_date: '2026-01-03T00:00:00.000Z',
          outcome: null,
          reason: null,
          dag_run_id: null,
          run_state: null,
        },
      ],
    });
    expect(
      (await api('GET', `/backfills/${b.id}/dates?offset=3`)).body.dates.map((d: { ordinal: number }) => d.ordinal),
    ).toEqual([3, 4]);
    expect((await api('GET', `/backfills/${b.id}/dates?state=queued`)).body.total_entries).toBe(2);
    expect((await api('GET', `/backfills/${b.id}/dates?state=failed`)).body).toEqual({ dates: [], total_entries: 0 });
    expect(await api('GET', `/backfills/${b.id}/dates?state=lost`)).toMatchObject({
      status: 400,
      body: { field: 'state' },
    });
  });

  it('answers an unknown id with a 404 and an id that is not an integer with a 400 naming it', async () => {
    expect(await api('GET', '/backfills/999999')).toMatchObject({
      status: 404,
      body: { detail: expect.stringContaining('no backfill with id 999999') },
    });
    expect(await api('GET', '/backfills/999999/dates')).toMatchObject({ status: 404 });
    expect(await api('POST', '/backfills/999999/pause')).toMatchObject({ status: 404 });
    for (const [method, path] of [
      ['GET', '/backfills/abc'],
      ['GET', '/backfills/1.5/dates'],
      ['POST', '/backfills/0/pause'],
      ['POST', '/backfills/99999999999/cancel'],
    ] as const) {
      expect({ path, ...(await api(method, path)) }).toMatchObject({
        path,
        status: 400,
        body: { field: 'backfill_id', detail: expect.stringMatching(/^backfill_id: must be an integer/) },
      });
    }
  });
});

describe('pause, unpause and cancel', () => {
  it('change the state, refuse what the state does not allow (409), and are audited', async () => {
    const [b] = (await api('GET', '/backfills?dag_id=bf_daily&state=running')).body.backfills;
    const paused = await api('POST', `/backfills/${b.id}/pause`);
    expect(paused).toMatchObject({ status: 200, body: { id: b.id, state: 'paused', progress: { total: 5 } } });
    expect((await api('GET', `/backfills/${b.id}`)).body.state).toBe('paused');
    expect(await api('POST', `/backfills/${b.id}/pause`)).toMatchObject({
      status: 409,
      body: { detail: expect.stringMatching(/is paused: only a running backfill can be paused/) },
    });
    expect((await api('GET', '/backfills?state=paused')).body.backfills.map((x: { id: number }) => x.id)).toEqual([
      b.id,
    ]);

    expect(await api('POST', `/backfills/${b.id}/unpause`)).toMatchObject({ status: 200, body: { state: 'running' } });
    expect(await api('POST', `/backfills/${b.id}/unpause`)).toMatchObject({ status: 409 });

    const cancelled = await api('POST', `/backfills/${b.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      state: 'cancelled',
      completed_at: expect.any(String),
      progress: { pending: 3, queued: 0, failed: 2 },
    });
    expect(await api('POST', `/backfills/${b.id}/cancel`)).toMatchObject({
      status: 409,
      body: { detail: expect.stringMatching(/is cancelled: only a running or paused backfill can be cancelled/) },
    });

    const events = (await api('GET', '/eventLogs?dag_id=bf_daily&order_by=when')).body.event_logs.map(
      (e: { event: string; owner: string }) => `${e.event} ${e.owner}`,
    );
    expect(events).toEqual([
      'backfill.create user:olga',
      'backfill.pause user:olga',
      'backfill.resume user:olga',
      // Its two runs were queued: they ended with the cancel itself.
      'backfill.cancel user:olga',
    ]);
    // Finished, the DAG may have another.
    expect((await api('POST', '/backfills', daily)).status).toBe(200);
  });
});

describe('who may do what', () => {
  it('reads without a token; changes need an operator (401 anonymous, 403 viewer) and change nothing otherwise', async () => {
    const before = await rows();
    const [b] = (await api('GET', '/backfills?dag_id=bf_daily&state=running', undefined, {})).body.backfills;
    for (const [headers, status] of [
      [{}, 401],
      [viewer, 403],
    ] as const) {
      expect((await api('POST', '/backfills', { ...daily, dag_id: 'bf_zoned' }, headers)).status).toBe(status);
      expect((await api('POST', '/backfills/dry_run', daily, headers)).status).toBe(status);
      for (const action of ['pause', 'unpause', 'cancel'])
        expect((await api('POST', `/backfills/${b.id}/${action}`, undefined, headers)).status).toBe(status);
    }
    expect((await api('GET', `/backfills/${b.id}`, undefined, viewer)).body.state).toBe('running');
    expect((await api('GET', `/backfills/${b.id}/dates`, undefined, {})).status).toBe(200);
    expect(await rows()).toEqual(before);
  });
});
