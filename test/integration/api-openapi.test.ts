/**
 * GET /api/v1/openapi.json: an OpenAPI 3.1 document built from the schemas the routes
 * validate with. Every route the app serves is in it and nothing else; every $ref
 * resolves; parameters, bodies and answers carry the zod schemas' constraints.
 * And what the API answers when the database is gone.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { authRoutes } from '../../src/web/auth/routes.js';
import { dateInputRule } from '../../src/schedule/index.js';
import { apiRoutes } from '../../src/web/api/index.js';
import { testDatabase } from '../support/db.js';

const pass: MiddlewareHandler = async (_c, next) => next();
let app: Hono;
let auth: Hono;
let doc: any;

beforeAll(async () => {
  const { db } = await testDatabase();
  app = apiRoutes(db, { read: pass, operate: pass, checkResponses: true });
  auth = authRoutes(db, { readOpen: true, sessionTtlMs: 60_000 });
  const res = await app.request('/api/v1/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = await res.json();
});

/** Every `$ref` in a JSON value. */
function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, found);
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') found.push(v);
      else refs(v, found);
    }
  }
  return found;
}

describe('openapi.json', () => {
  it('documents exactly the routes the app serves, login, logout and the current user included', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: '/api/v1' }]);
    const served = new Set(
      [...app.routes, ...auth.routes].map(
        (r) => `${r.method.toLowerCase()} ${r.path.replace(/^\/api\/v1/, '').replace(/:(\w+)/g, '{$1}')}`,
      ),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops as object).map((method) => `${method} ${path}`),
      ),
    );
    expect([...documented].sort()).toEqual([...served].sort());
    expect(documented).toEqual(
      new Set([
        'get /dags',
        'get /dags/{dag_id}',
        'patch /dags/{dag_id}',
        'get /dags/{dag_id}/dagRuns',
        'post /dags/{dag_id}/dagRuns',
        'get /dags/{dag_id}/dagRuns/{dag_run_id}',
        'patch /dags/{dag_id}/dagRuns/{dag_run_id}',
        'post /dags/{dag_id}/dagRuns/{dag_run_id}/cancel',
        'post /dags/{dag_id}/clearTaskInstances',
        'get /backfills',
        'post /backfills',
        'post /backfills/dry_run',
        'get /backfills/{backfill_id}',
        'get /backfills/{backfill_id}/dates',
        'post /backfills/{backfill_id}/pause',
        'post /backfills/{backfill_id}/unpause',
        'post /backfills/{backfill_id}/cancel',
        'get /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances',
        'get /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}',
        'get /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}',
        'get /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries',
        'get /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}',
        'get /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}',
        'get /importErrors',
        'get /importErrors/{import_error_id}',
        'get /eventLogs',
        'get /eventLogs/{event_log_id}',
        'get /pools',
        'get /pools/{pool_name}',
        'get /datasets',
        'get /datasets/events',
        'get /health',
        'get /openapi.json',
        'post /auth/login',
        'post /auth/logout',
        'get /auth/me',
      ]),
    );
  });

  it('builds components from the zod schemas, and every $ref resolves', () => {
    const schemas = doc.components.schemas;
    for (const name of [
      'DAG',
      'DAGDetail',
      'DAGCollection',
      'DAGPatch',
      'DAGRun',
      'DAGRunCollection',
      'TriggerDAGRun',
      'Backfill',
      'BackfillDetail',
      'BackfillCollection',
      'BackfillPost',
      'DryRunBackfillCollection',
      'BackfillDateCollection',
      'TaskInstance',
      'TaskLog',
      'XComEntry',
      'XComEntryWithValue',
      'ImportError',
      'EventLog',
      'Pool',
      'Health',
      'Problem',
    ]) {
      expect(schemas[name], name).toMatchObject({ type: 'object' });
      expect(schemas[name].$schema).toBeUndefined();
    }
    expect(schemas.DAGCollection.properties.dags).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/DAG' },
    });
    expect(schemas.DAG.required).toContain('next_dagrun');
    expect(schemas.DAGRun.properties.state).toEqual({
      type: 'string',
      enum: ['queued', 'running', 'success', 'failed'],
    });
    expect(schemas.TriggerDAGRun).toMatchObject({
      additionalProperties: false,
      properties: { conf: { type: 'object' } },
    });
    expect(schemas.TriggerDAGRun.required ?? []).toEqual([]);
    expect(schemas.Problem.required).toEqual(['type', 'title', 'status', 'detail']);
    for (const ref of refs(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(schemas[ref.split('/').pop()!], ref).toBeDefined();
    }
  });

  it('documents parameters, bodies, answers and errors of each operation', () => {
    const listRuns = doc.paths['/dags/{dag_id}/dagRuns'].get;
    expect(listRuns.operationId).toBe('get_dag_runs');
    expect(listRuns['x-updraft-access']).toBe('read');
    const param = (name: string) => listRuns.parameters.find((p: { name: string }) => p.name === name);
    expect(param('dag_id')).toMatchObject({ in: 'path', required: true, schema: { type: 'string' } });
    expect(param('limit')).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    });
    expect(param('state')).toMatchObject({
      in: 'query',
      style: 'form',
      explode: true,
      schema: { type: 'array', items: { enum: ['queued', 'running', 'success', 'failed'] } },
    });
    // A date or date-time, with or without an offset: checked by the server (readDates), so a plain string here.
    expect(param('execution_date_gte')).toMatchObject({ required: false, schema: { type: 'string' } });
    // Every date says the one rule (DATE_INPUT_RULE), filters without a description of their own too.
    for (const name of ['execution_date_gte', 'start_date_lte', 'end_date_gte'])
      expect(param(name).description).toContain(dateInputRule());
    expect(doc.components.schemas.ClearTaskInstances.properties.end_date.description).toContain(
      'a day without a time covers that whole day',
    );
    expect(param('order_by').schema.enum).toContain('-logical_date');
    expect(listRuns.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/DAGRunCollection',
    });
    expect(Object.keys(listRuns.responses).sort()).toEqual(['200', '400', '401', '403', '404']);
    expect(listRuns.responses['400'].content['application/problem+json'].schema).toEqual({
      $ref: '#/components/schemas/Problem',
    });

    const trigger = doc.paths['/dags/{dag_id}/dagRuns'].post;
    expect(trigger['x-updraft-access']).toBe('operate');
    expect(trigger.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/TriggerDAGRun',
    });
    expect(Object.keys(trigger.responses)).toEqual(expect.arrayContaining(['200', '400', '404', '409']));

    const log = doc.paths['/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}'].get;
    expect(Object.keys(log.responses['200'].content)).toEqual(['application/json', 'text/plain']);
    expect(log.parameters.find((p: { name: string }) => p.name === 'try_number').schema).toMatchObject({
      type: 'integer',
      minimum: 1,
    });

    const health = doc.paths['/health'].get;
    expect(health['x-updraft-access']).toBe('public');
    expect(health.responses['401']).toBeUndefined();

    const login = doc.paths['/auth/login'].post;
    expect(login.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Login' });
    expect(login.security).toEqual([]);
    expect(doc.paths['/auth/logout'].post.responses['204']).toBeDefined();
    expect(doc.paths['/auth/me'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CurrentUser',
    });

    const ids = Object.values(doc.paths).flatMap((ops) =>
      Object.values(ops as Record<string, { operationId: string }>).map((o) => o.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('declares how to authenticate: an API token or the session cookie, and which operations need them', () => {
    expect(doc.components.securitySchemes).toMatchObject({
      bearerAuth: { type: 'http', scheme: 'bearer' },
      sessionCookie: { type: 'apiKey', in: 'cookie', name: 'updraft_session' },
    });
    expect(doc.security).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }]);
    expect(doc.paths['/dags/{dag_id}'].patch.security).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }]);
    // Reading may be open (UPDRAFT_AUTH_READ): `{}` says no credentials may do.
    expect(doc.paths['/dags'].get.security).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }, {}]);
    expect(doc.paths['/health'].get.security).toEqual([]);
  });
});

describe('without a database', () => {
  it('answers a 500 problem without the cause, tells onError, and /health a 503', async () => {
    const database = await testDatabase();
    const errors: unknown[] = [];
    const broken = apiRoutes(database.db, { read: pass, operate: pass, onError: (e) => errors.push(e) });
    await database.close();
    const res = await broken.request('/api/v1/dags?tags=secret');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'internal error; the server log has the details',
    });
    expect(errors).toHaveLength(1);
    const health = await broken.request('/api/v1/health');
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 503, detail: 'the database does not answer' });
  });
});
