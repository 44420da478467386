/**
 * The web app as `standalone` serves it (webApp): authentication in front of the REST
 * API, run management through the API (clear, mark, cancel), /metrics, and who is
 * recorded in the audit log.
 */
import { desc } from 'drizzle-orm';
import type { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { createToken, createUser } from '../../src/auth/index.js';
import { auditLog } from '../../src/db/schema.js';
import { loadConfig, withHost } from '../../src/config.js';
import type { Engine } from '../../src/engine/engine.js';
import { startWebServer, webApp } from '../../src/web/server.js';
import { useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';
export default dag({ id: 'managed', schedule: null, params: { fail: { type: 'boolean', default: true } } }, (t) => {
  const flaky = t.task('flaky', (ctx) => { if (ctx.params.fail && ctx.tryNumber === 1) throw new Error('first try fails'); return 'ok'; });
  const after = t.task('after', () => 'done');
  flaky.then(after);
});
`;

const setup = useEngine({ 'managed.ts': DAGS });
let app: Hono;
let operator: string;
let viewer: string;

beforeAll(async () => {
  const { db } = setup().database;
  app = webApp(setup().h.engine);
  await createUser(db, { username: 'olga', role: 'operator', password: 'operator-password-1', actor: 'test' });
  await createUser(db, { username: 'vic', role: 'viewer', password: 'viewer-password-12', actor: 'test' });
  operator = (await createToken(db, { username: 'olga', actor: 'test' })).token;
  viewer = (await createToken(db, { username: 'vic', actor: 'test' })).token;
});

async function call(method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

describe('the web app', () => {
  it('lets anyone read (UPDRAFT_AUTH_READ=open) and only an operator change anything', async () => {
    expect((await call('GET', '/api/v1/dags')).status).toBe(200);
    const anonymous = await call('PATCH', '/api/v1/dags/managed', undefined, { is_paused: true });
    expect(anonymous).toMatchObject({ status: 401, body: { title: 'Unauthorized', status: 401 } });
    expect((await call('PATCH', '/api/v1/dags/managed', viewer, { is_paused: true })).status).toBe(403);
    expect(await call('PATCH', '/api/v1/dags/managed', operator, { is_paused: true })).toMatchObject({
      status: 200,
      body: { is_paused: true },
    });
    const [latest] = await setup().database.db.select().from(auditLog).orderBy(desc(auditLog.at)).limit(1);
    expect(latest).toMatchObject({ actor: 'user:olga', action: 'dag.pause', dagId: 'managed' });
    expect(await call('PATCH', '/api/v1/dags/managed', operator, { is_paused: false })).toMatchObject({
      status: 200,
      body: { is_paused: false },
    });
  });

  it('clears a failed task through the API: a dry run first, then a real one that re-runs it', async () => {
    const { h } = setup();
    const run = await h.run('managed');
    expect(run.tasks.flaky!.state).toBe('failed');
    const path = '/api/v1/dags/managed/clearTaskInstances';
    expect(await call('POST', path, operator, { task_ids: ['flaky'] })).toMatchObject({
      status: 400,
      body: { field: 'dag_run_id' },
    });
    const dry = await call('POST', path, operator, {
      dag_run_id: run.runId,
      only_failed: true,
      include_downstream: true,
    });
    expect(dry).toMatchObject({ status: 200, body: { dry_run: true, total_entries: 2 } });
    expect(dry.body.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state])).toEqual([
      ['flaky', 'failed'],
      ['after', 'upstream_failed'],
    ]);
    const finished = h.next(
      'task:state',
      (e) => e.runRowId === run.id && e.taskId === 'after' && e.state === 'success',
    );
    expect(
      await call('POST', path, operator, {
        dag_run_id: run.runId,
        task_ids: ['flaky'],
        include_downstream: true,
        dry_run: false,
      }),
    ).toMatchObject({ status: 200, body: { dry_run: false, total_entries: 2 } });
    await finished;
    const reread = await call('GET', `/api/v1/dags/managed/dagRuns/${run.runId}/taskInstances/flaky`);
    expect(reread.body).toMatchObject({ state: 'success', try_number: 2 });
  });

  it('marks a run failed, refuses to cancel a finished run (409), and names an unknown run (404)', async () => {
    const { h } = setup();
    const run = await h.run('managed', { conf: { fail: false } });
    expect(run.state).toBe('success');
    const marked = await call('PATCH', `/api/v1/dags/managed/dagRuns/${run.runId}`, operator, { state: 'failed' });
    expect(marked).toMatchObject({ status: 200, body: { previous_state: 'success', state: 'failed' } });
    expect(await call('POST', `/api/v1/dags/managed/dagRuns/${run.runId}/cancel`, operator)).toMatchObject({
      status: 409,
    });
    expect(await call('POST', '/api/v1/dags/managed/dagRuns/nope/cancel', operator)).toMatchObject({
      status: 404,
      body: { detail: expect.stringContaining("DAG 'managed' has no run 'nope'") },
    });
    expect(
      await call('PATCH', `/api/v1/dags/managed/dagRuns/${run.runId}`, operator, { state: 'running' }),
    ).toMatchObject({ status: 400, body: { field: 'state' } });
  });

  it('serves /metrics and /health without a user while reading is open', async () => {
    const metrics = await call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('updraft_task_instances_finished_total');
    expect((await call('GET', '/health')).status).toBe(200);
  });
});

describe('a server listening on a network address', () => {
  /** The engine as `standalone --host <host>` configures it: read access from the address (withHost). */
  async function serveOn(host: string, env: Record<string, string> = {}) {
    const { h } = setup();
    const config = withHost(loadConfig({ ...env }, h.engine.config.home), host);
    const engine = Object.create(h.engine, {
      config: { value: { ...h.engine.config, authRead: config.authRead, authReadSetting: config.authReadSetting } },
    }) as Engine;
    return startWebServer(engine, host, 0);
  }

  it('refuses anonymous reading on 0.0.0.0 (401, login page), keeps /health open, and lets a token read', async () => {
    const server = await serveOn('0.0.0.0');
    try {
      const at = (path: string, headers: Record<string, string> = {}) =>
        fetch(`http://127.0.0.1:${server.port}${path}`, { headers, redirect: 'manual' });
      const dags = await at('/api/v1/dags');
      expect(dags.status).toBe(401);
      expect(await dags.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
      expect((await at('/api/v1/dags/managed/dagRuns')).status).toBe(401);
      expect((await at('/metrics')).status).toBe(401);
      const page = await at('/ui/dags/managed');
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toBe('/ui/login?next=%2Fui%2Fdags%2Fmanaged');
      expect((await at('/health')).status).toBe(200);
      expect((await at('/api/v1/health')).status).toBe(200);
      expect((await at('/api/v1/dags', { authorization: `Bearer ${viewer}` })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('lets anyone read when the operator opts out with UPDRAFT_AUTH_READ=open', async () => {
    const server = await serveOn('0.0.0.0', { UPDRAFT_AUTH_READ: 'open' });
    try {
      expect((await fetch(`http://127.0.0.1:${server.port}/api/v1/dags`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
