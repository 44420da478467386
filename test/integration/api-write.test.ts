/**
 * The REST API's changes: triggering a run with conf (checked against the DAG's params,
 * a 400 naming conf.<param> otherwise) and pausing a DAG, each recorded in the audit log
 * that /eventLogs lists; the `operate` guard runs before every change and `read` before
 * every read.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { problem } from '../../src/web/problem.js';
import { apiRoutes } from '../../src/web/api/index.js';
import { useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';

export const report = dag({
  id: 'api_report',
  params: {
    region: { type: 'string', enum: ['eu', 'us'], default: 'eu' },
    limit: { type: 'integer', default: 10 },
    day: { type: 'string' },
  },
}, (t) => {
  t.task('render', async (ctx) => ctx.params.region + ':' + ctx.params.day);
});
`;

const setup = useEngine({ 'report.ts': DAGS });
const pass: MiddlewareHandler = async (_c, next) => next();
let app: Hono;

interface Answer {
  status: number;
  body: any;
}

async function call(target: Hono, method: string, path: string, body?: unknown): Promise<Answer> {
  const init: RequestInit = { method, headers: { 'content-type': 'application/json' } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await target.request(`/api/v1${path}`, init);
  return { status: res.status, body: await res.json() };
}

const api = (method: string, path: string, body?: unknown) => call(app, method, path, body);

beforeAll(() => {
  app = apiRoutes(setup().database.db, {
    read: pass,
    operate: pass,
    actor: () => 'web:tester',
    checkResponses: true,
    onError: (e) => {
      throw e;
    },
  });
});

describe('POST /dags/{dag_id}/dagRuns', () => {
  it('queues a manual run with its conf and records who triggered it', async () => {
    const { status, body } = await api('POST', '/dags/api_report/dagRuns', {
      conf: { region: 'us', day: 'monday' },
      logical_date: '2030-02-01T06:00:00+01:00',
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      dag_id: 'api_report',
      dag_run_id: 'manual__2030-02-01T05:00:00+00:00',
      run_type: 'manual',
      logical_date: '2030-02-01T05:00:00.000Z',
      conf: { region: 'us', day: 'monday' },
      external_trigger: true,
      dag_version: 1,
    });
    // Queued, unless the running scheduler was quicker than the answer.
    expect(['queued', 'running', 'success']).toContain(body.state);
    const audit = await api('GET', '/eventLogs?event=dag.trigger&dag_id=api_report');
    expect(audit.body.total_entries).toBe(1);
    expect(audit.body.event_logs[0]).toMatchObject({
      event: 'dag.trigger',
      owner: 'web:tester',
      dag_id: 'api_report',
      run_id: body.dag_run_id,
      extra: { conf: { region: 'us', day: 'monday' } },
    });
    expect((await api('GET', `/dags/api_report/dagRuns/${encodeURIComponent(body.dag_run_id)}`)).body.conf).toEqual({
      region: 'us',
      day: 'monday',
    });
  });

  it('answers a conf that does not match the params with a 400 naming the param', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ conf: { region: 'asia', day: 'x' } }, 'conf.region', /region: value "asia" is not one of "eu", "us"/],
      [{ conf: { limit: 'ten', day: 'x' } }, 'conf.limit', /limit: value "ten" is not of type integer/],
      [{ conf: {} }, 'conf.day', /day: required param has no value/],
      [{ conf: [1], logical_date: '2030-02-02' }, 'conf', /^conf: /],
      [{ conf: { day: 'x' }, logical_date: 'tomorrow' }, 'logical_date', /^logical_date: must be an ISO 8601/],
      [
        { conf: { day: 'x' }, dag_run_id: 'mine' },
        'dag_run_id',
        /^dag_run_id: unknown request body \(expected conf, logical_date\)$/,
      ],
    ];
    for (const [body, field, detail] of cases) {
      const answer = await api('POST', '/dags/api_report/dagRuns', body);
      expect({ body, status: answer.status, field: answer.body.field }).toEqual({ body, status: 400, field });
      expect(answer.body.detail).toMatch(detail);
    }
    expect(await api('POST', '/dags/api_report/dagRuns', '{"conf": ')).toMatchObject({
      status: 400,
      body: { detail: expect.stringMatching(/^the request body is not valid JSON/) },
    });
    expect(await api('POST', '/dags/api_report/dagRuns', '[]')).toMatchObject({
      status: 400,
      body: { detail: expect.stringMatching(/^request body: /) },
    });
    // Nothing was created by the refused triggers.
    expect((await api('GET', '/eventLogs?event=dag.trigger')).body.total_entries).toBe(1);
  });

  it('refuses a second run for the same logical date (409) and an unknown DAG (404)', async () => {
    const first = await api('POST', '/dags/api_report/dagRuns', { conf: { day: 'x' }, logical_date: '2030-03-01' });
    expect(first.status).toBe(200);
    const again = await api('POST', '/dags/api_report/dagRuns', {
      conf: { day: 'y' },
      logical_date: '2030-03-01T00:00:00Z',
    });
    expect(again).toMatchObject({
      status: 409,
      body: {
        title: 'Conflict',
        detail: "DAG 'api_report' already has a run with logical date 2030-03-01T00:00:00.000Z",
      },
    });
    expect(await api('POST', '/dags/nope/dagRuns', {})).toMatchObject({
      status: 404,
      body: { detail: expect.stringContaining("no DAG with id 'nope'") },
    });
  });
});

describe('PATCH /dags/{dag_id}', () => {
  it('pauses and unpauses, recording each change', async () => {
    const paused = await api('PATCH', '/dags/api_report', { is_paused: true });
    expect(paused).toMatchObject({ status: 200, body: { dag_id: 'api_report', is_paused: true } });
    expect((await api('GET', '/dags?paused=true')).body.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual([
      'api_report',
    ]);
    expect((await api('PATCH', '/dags/api_report', { is_paused: false })).body.is_paused).toBe(false);
    const events = (await api('GET', '/eventLogs?dag_id=api_report&order_by=when')).body.event_logs.map(
      (e: { event: string; owner: string }) => `${e.event} ${e.owner}`,
    );
    expect(events.filter((e: string) => !e.startsWith('dag.trigger'))).toEqual([
      'dag.pause web:tester',
      'dag.unpause web:tester',
    ]);
  });

  it('answers a bad body with a 400 naming the field, and an unknown DAG with a 404', async () => {
    expect(await api('PATCH', '/dags/api_report', { is_paused: 'yes' })).toMatchObject({
      status: 400,
      body: { field: 'is_paused' },
    });
    expect(await api('PATCH', '/dags/api_report', {})).toMatchObject({ status: 400, body: { field: 'is_paused' } });
    expect(await api('PATCH', '/dags/api_report', { is_paused: true, schedule: '@daily' })).toMatchObject({
      status: 400,
      body: { field: 'schedule' },
    });
    expect(await api('PATCH', '/dags/nope', { is_paused: true })).toMatchObject({
      status: 404,
      body: { detail: expect.stringContaining("no DAG with id 'nope'") },
    });
  });
});

describe('GET /eventLogs', () => {
  it('filters by event, owner and time, newest first by default, paged', async () => {
    const all = (await api('GET', '/eventLogs')).body;
    expect(all.total_entries).toBeGreaterThanOrEqual(4);
    const whens = all.event_logs.map((e: { when: string }) => e.when);
    expect([...whens].sort().reverse()).toEqual(whens);
    expect((await api('GET', '/eventLogs?limit=1&offset=1')).body).toMatchObject({
      total_entries: all.total_entries,
      event_logs: [{ event_log_id: all.event_logs[1].event_log_id }],
    });
    expect((await api('GET', '/eventLogs?owner=web:tester&event=dag.pause')).body.total_entries).toBe(1);
    expect((await api('GET', '/eventLogs?owner=cli:someone')).body.total_entries).toBe(0);
    expect((await api('GET', '/eventLogs?after=2999-01-01')).body.total_entries).toBe(0);
    expect(
      (await api('GET', `/eventLogs?before=${encodeURIComponent(new Date().toISOString())}`)).body.total_entries,
    ).toBe(all.total_entries);
    expect(await api('GET', '/eventLogs?after=soon')).toMatchObject({ status: 400, body: { field: 'after' } });
    const one = await api('GET', `/eventLogs/${all.event_logs[0].event_log_id}`);
    expect(one.body).toEqual(all.event_logs[0]);
    expect(await api('GET', '/eventLogs/00000000-0000-4000-8000-000000000000')).toMatchObject({ status: 404 });
  });
});

describe('guards', () => {
  const refuse: MiddlewareHandler = async (c) => problem(c, 401, 'sign in first');

  it('runs `operate` before every change: a refused request changes nothing', async () => {
    const guarded = apiRoutes(setup().database.db, { read: pass, operate: refuse, actor: () => 'web:intruder' });
    expect(
      await call(guarded, 'POST', '/dags/api_report/dagRuns', { conf: { day: 'x' }, logical_date: '2030-04-01' }),
    ).toEqual({
      status: 401,
      body: { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'sign in first' },
    });
    expect((await call(guarded, 'PATCH', '/dags/api_report', { is_paused: true })).status).toBe(401);
    // Reads go through `read` only.
    expect((await call(guarded, 'GET', '/dags/api_report')).body.is_paused).toBe(false);
    expect((await api('GET', '/eventLogs?owner=web:intruder')).body.total_entries).toBe(0);
    expect((await api('GET', '/dags/api_report/dagRuns?execution_date_gte=2030-04-01')).body.total_entries).toBe(0);
  });

  it('runs `read` before every GET but /health', async () => {
    const closed = apiRoutes(setup().database.db, { read: refuse, operate: refuse });
    for (const path of [
      '/dags',
      '/dags/api_report',
      '/dags/api_report/dagRuns',
      '/eventLogs',
      '/pools',
      '/importErrors',
      '/openapi.json',
    ]) {
      expect({ path, status: (await call(closed, 'GET', path)).status }).toEqual({ path, status: 401 });
    }
    expect((await call(closed, 'GET', '/health')).status).toBe(200);
  });

  it("records the authenticated user as 'web:<username>' by default", async () => {
    const withUser = new Hono();
    withUser.use('*', async (c, next) => {
      c.set('user' as never, { username: 'alice' } as never);
      await next();
    });
    withUser.route('/', apiRoutes(setup().database.db, { read: pass, operate: pass }));
    expect((await call(withUser, 'PATCH', '/dags/api_report', { is_paused: true })).status).toBe(200);
    expect((await api('GET', '/eventLogs?owner=web:alice')).body.event_logs).toMatchObject([
      { event: 'dag.pause', dag_id: 'api_report' },
    ]);
  });
});
