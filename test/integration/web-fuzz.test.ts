/**
 * A fuzz of the web server over loopback: every declared API route and UI page, with bad
 * values (NUL, unpaired surrogates, integers past int4, 1e309, year 0000, long strings) in
 * each path parameter, query parameter, JSON body field and form field, wrong methods,
 * wrong content types and malformed bodies, anonymously and as an operator. No answer may
 * be a 5xx, none may be a value only the database refused, and every 4xx of the API is
 * a problem body. A seeded generator keeps the
 * sample (and any failure) the same from run to run; MAX_REQUESTS bounds it.
 */
import { z } from 'zod';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createSession, createToken, createUser } from '../../src/auth/index.js';
import { authRouteDocs } from '../../src/web/api/auth-doc.js';
import { apiRouteList } from '../../src/web/api/index.js';
import type { AnyRouteDoc } from '../../src/web/api/route.js';
import { startWebServer, webApp, type WebServer } from '../../src/web/server.js';
import { useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';
export default dag({ id: 'fuzzed', schedule: '@daily', startDate: '2030-01-01', timezone: 'Europe/Berlin', params: { n: { type: 'integer', default: 1 } } }, (t) => {
  t.task('only', () => 'ok');
});
`;

const MAX_REQUESTS = 1200;
const SEED = 20261207;

/** Bad values as they appear in a URL (already percent-encoded). */
const URL_VALUES = [
  '%00',
  'a%00b',
  '%ED%A0%80',
  '%F0%90%80',
  '2147483648',
  '-2147483649',
  '99999999999999999999',
  '1e309',
  'NaN',
  '0000-01-01',
  '0000-01-01T00:00:00Z',
  '99999-01-01',
  'x'.repeat(3000),
  '',
  '%25',
  '..%2F..',
  '-1',
];
/** Bad values inside JSON and forms (raw text). */
const TEXT_VALUES = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  '2147483648',
  '99999999999999999999',
  '1e309',
  '0000-01-01',
  '0000-01-01T00:00:00Z',
  'x'.repeat(3000),
  '',
];
const JSON_VALUES: unknown[] = [
  ...TEXT_VALUES,
  2147483648,
  -2147483649,
  1e300,
  -1,
  0,
  null,
  true,
  [],
  { a: '\u0000' },
  { a: ['\ud800'] },
  { '\u0000': 1 },
];
/** Query parameters the UI's pages read. */
const UI_QUERY = [
  'page',
  'state',
  'dag',
  'action',
  'tag',
  'search',
  'paused',
  'fragment',
  'view',
  'run',
  'runs',
  'try',
  'map_index',
  'uri',
  'next',
  'cleared',
];
/** Form fields the UI's forms send. */
const UI_FORM = [
  'username',
  'password',
  'next',
  'paused',
  'conf',
  'logical_date',
  'from',
  'to',
  'reprocess',
  'max_active_runs',
  'backwards',
  'state',
  'downstream',
];

/** mulberry32: a small seeded generator, so that the sample is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Probe {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the operator's credentials (a token for the API, the session and its CSRF token for the UI). */
  signedIn: boolean;
}

const setup = useEngine({ 'fuzzed.ts': DAGS });
let server: WebServer;
let token: string;
let cookie: string;
let csrf: string;
let runId: string;
let uiRoutes: { method: string; path: string }[];

beforeAll(async () => {
  const { database, h } = setup();
  const user = await createUser(database.db, {
    username: 'fuzz',
    role: 'operator',
    password: 'fuzz-password-123',
    actor: 'test',
  });
  token = (await createToken(database.db, { username: 'fuzz', actor: 'test' })).token;
  const session = await createSession(database.db, user.id, 3_600_000);
  cookie = `updraft_session=${session.cookieValue}`;
  csrf = session.csrfToken;
  runId = (await h.run('fuzzed')).runId;
  server = await startWebServer(h.engine, '127.0.0.1', 0);
  uiRoutes = webApp(h.engine)
    .routes.filter(
      (r) => (r.method === 'GET' || r.method === 'POST') && !r.path.startsWith('/api/') && !r.path.includes('*'),
    )
    // The event stream never ends; logging out would end the operator's session mid-walk.
    .filter((r) => r.path !== '/ui/events')
    .map((r) => ({ method: r.method, path: r.path }));
});

afterAll(async () => {
  await server?.close();
});

/** A valid value for a path parameter, so that a request reaches the parameter under test. */
function validParam(name: string): string {
  if (/dag_?id/i.test(name)) return 'fuzzed';
  if (/run_?id/i.test(name)) return encodeURIComponent(runId);
  if (/task_?id/i.test(name)) return 'only';
  if (name === 'map_index') return '-1';
  if (name === 'try_number') return '1';
  if (name === 'backfill_id' || name === 'id') return '1';
  if (name === 'event_log_id' || name === 'import_error_id') return '00000000-0000-0000-0000-000000000000';
  return 'default_pool';
}

/** '/dags/{dag_id}' or '/ui/dags/:dagId' with every parameter valid except `bad` set to `value`. */
function fill(path: string, bad: string | undefined, value: string): string {
  return path.replace(/\{(\w+)\}|:(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    return name === bad ? value : validParam(name);
  });
}

const paramsOf = (path: string) => [...path.matchAll(/\{(\w+)\}|:(\w+)/g)].map((m) => (m[1] ?? m[2])!);
const keysOf = (schema: z.ZodType | undefined): string[] =>
  schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];

function probes(random: () => number): Probe[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const out: Probe[] = [];
  const api: AnyRouteDoc[] = [...apiRouteList(), ...authRouteDocs];
  for (const signedIn of [false, true]) {
    for (const route of api) {
      const template = `/api/v1${route.path}`;
      const method = route.method.toUpperCase();
      if (signedIn && route.operationId === 'logout') continue;
      const json = (body: string, type = 'application/json') => ({ headers: { 'content-type': type }, body });
      const bodyOf = method === 'GET' ? {} : json('{}');
      for (const param of paramsOf(route.path))
        for (const value of URL_VALUES) out.push({ method, path: fill(template, param, value), signedIn, ...bodyOf });
      for (const key of keysOf(route.query))
        for (const value of URL_VALUES)
          out.push({ method, path: `${fill(template, undefined, '')}?${key}=${value}`, signedIn, ...bodyOf });
      out.push({ method, path: `${fill(template, undefined, '')}?unknown%00=1`, signedIn, ...bodyOf });
      for (const wrong of ['PUT', 'DELETE', method === 'GET' ? 'POST' : 'GET'])
        out.push({ method: wrong, path: fill(template, undefined, ''), signedIn });
      if (method === 'GET') continue;
      const valid = fill(template, undefined, '');
      for (const key of keysOf(route.body))
        for (const value of JSON_VALUES)
          out.push({ method, path: valid, signedIn, ...json(JSON.stringify({ [key]: value })) });
      for (const raw of [
        '{"conf": {"a": "\\u0000"}}',
        '{"conf": {"a": "\\ud800"}}',
        '{"dag_run_conf": {"x": ["\\udfff"]}}',
        '{"logical_date": "0000-01-01"}',
        '{',
        '[]',
        'null',
        '"x"',
        '{"a":1}'.repeat(3),
      ]) {
        out.push({ method, path: valid, signedIn, ...json(raw) });
      }
      for (const type of [
        'text/plain',
        'multipart/form-data',
        'multipart/form-data; boundary=',
        'application/x-www-form-urlencoded',
        'application/json; charset=utf-16',
      ]) {
        out.push({ method, path: valid, signedIn, ...json('username=a&password=b', type) });
      }
    }
    for (const route of uiRoutes) {
      if (signedIn && route.path === '/ui/logout') continue;
      const auth = (fields: Record<string, string>) => (signedIn ? { ...fields, _csrf: csrf } : fields);
      const form = (fields: Record<string, string>) => ({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(auth(fields)).toString(),
      });
      const bodyOf = route.method === 'POST' ? form({}) : {};
      for (const param of paramsOf(route.path))
        for (const value of URL_VALUES)
          out.push({ method: route.method, path: fill(route.path, param, value), signedIn, ...bodyOf });
      for (let i = 0; i < 12; i++)
        out.push({
          method: route.method,
          path: `${fill(route.path, undefined, '')}?${pick(UI_QUERY)}=${pick(URL_VALUES)}`,
          signedIn,
          ...bodyOf,
        });
      for (const wrong of ['PUT', 'DELETE', route.method === 'GET' ? 'PATCH' : 'GET'])
        out.push({ method: wrong, path: fill(route.path, undefined, ''), signedIn });
      if (route.method !== 'POST') continue;
      const valid = fill(route.path, undefined, '');
      for (const field of UI_FORM)
        for (const value of TEXT_VALUES)
          out.push({ method: 'POST', path: valid, signedIn, ...form({ [field]: value }) });
      for (const type of [
        'multipart/form-data',
        'multipart/form-data; boundary=nope',
        'application/json',
        'text/plain',
      ]) {
        out.push({
          method: 'POST',
          path: valid,
          signedIn,
          headers: { 'content-type': type },
          body: `--x\r\nContent-Disposition: form-data; name="username"\r\n\r\na\u0000\r\n`,
        });
      }
    }
  }
  // Every route is walked; when the walk is longer than the bound, a seeded sample of it.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.slice(0, MAX_REQUESTS);
}

async function send(probe: Probe): Promise<{ status: number; type: string; text: string }> {
  const headers: Record<string, string> = { ...probe.headers };
  if (probe.signedIn) {
    if (probe.path.startsWith('/api/')) headers.authorization = `Bearer ${token}`;
    else headers.cookie = cookie;
  }
  const res = await fetch(`${server.url}${probe.path}`, {
    method: probe.method,
    headers,
    body: probe.body,
    redirect: 'manual',
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

describe('the web server under bad input', () => {
  it('answers every request of the fuzz below 500, and every 4xx of the API as a problem body', {
    timeout: 240_000,
  }, async () => {
    const walk = probes(seeded(SEED));
    expect(walk.length).toBeGreaterThan(500);
    const failures: string[] = [];
    for (const probe of walk) {
      const { status, type, text } = await send(probe);
      const what = `${probe.method} ${probe.path.slice(0, 160)}${probe.signedIn ? ' (operator)' : ''}${probe.body ? ` body ${JSON.stringify(probe.body.slice(0, 80))}` : ''}`;
      if (status >= 500) failures.push(`${status} ${what}: ${text.slice(0, 200)}`);
      // The server's last resort turns a value PostgreSQL refused into a 400; the checks of the input must refuse it first.
      else if (text.includes('cannot be stored: database error'))
        failures.push(`${status} refused by the database, not by the input checks: ${what}`);
      else if (probe.path.startsWith('/api/') && status >= 400) {
        const body = type.includes('json') ? (JSON.parse(text) as Record<string, unknown>) : undefined;
        if (
          !type.startsWith('application/problem+json') ||
          body?.status !== status ||
          typeof body?.detail !== 'string' ||
          body?.type !== 'about:blank'
        ) {
          failures.push(`${status} not a problem body (${type}): ${what}: ${text.slice(0, 120)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(setup().h.errors).toEqual([]);
  });
});

describe('the edges of the web server', () => {
  const get = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, { redirect: 'manual', ...init });

  it('answers a method no route declares with 405 and Allow, in the API as a problem body', async () => {
    const api = await get('/api/v1/dags', { method: 'PUT' });
    expect(api.status).toBe(405);
    expect(api.headers.get('allow')).toBe('GET, HEAD');
    expect(api.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await api.json()).toMatchObject({
      status: 405,
      title: 'Method Not Allowed',
      detail: 'PUT is not allowed here; allowed: GET, HEAD',
    });
    const ui = await get('/ui/dags/fuzzed', { method: 'DELETE' });
    expect(ui.status).toBe(405);
    expect(ui.headers.get('allow')).toBe('GET, HEAD');
    expect(await ui.text()).toContain('<title>Method not allowed · Updraft</title>');
  });

  it('answers an unknown path with 404: a problem body under /api, the styled page elsewhere', async () => {
    const api = await get('/api/v1/nothing-here');
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ status: 404, detail: 'nothing at /api/v1/nothing-here' });
    const ui = await get('/ui/nothing-here');
    expect(ui.status).toBe(404);
    expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await ui.text()).toContain('<title>Not found · Updraft</title>');
  });

  it('refuses a body over 1 MiB with 413 before reading it, a login included', async () => {
    const big = JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024), password: 'y' });
    const api = await get('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect(api.status).toBe(413);
    expect(await api.json()).toMatchObject({ status: 413, title: 'Content Too Large' });
    const ui = await get('/ui/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=${'x'.repeat(2 * 1024 * 1024)}`,
    });
    expect(ui.status).toBe(413);
  });

  it('refuses a login form whose multipart boundary is missing or wrong with a 400 page', async () => {
    for (const type of ['multipart/form-data', 'multipart/form-data; boundary=nope']) {
      const res = await get('/ui/login', {
        method: 'POST',
        headers: { 'content-type': type },
        body: 'username=a&password=b',
      });
      expect(res.status, type).toBe(400);
      expect(await res.text()).toContain('the form could not be read');
    }
  });

  it('sends the security headers on every answer: no framing, nosniff, a referrer policy', async () => {
    for (const path of ['/', '/api/v1/dags', '/health', '/ui/nothing-here']) {
      const res = await get(path);
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('same-origin');
    }
  });

  it('names the parameter of a bad page number and of text the database cannot store', async () => {
    for (const page of ['99999999999999999999', '1e309', '0']) {
      const res = await get(`/ui/audit?page=${page}`);
      expect(res.status, page).toBe(400);
      expect(await res.text()).toContain(`page must be a whole number from 1 to 2147483647, not &#39;${page}&#39;`);
    }
    const nul = await get('/?search=a%00b');
    expect(nul.status).toBe(400);
    expect(await nul.text()).toContain('query parameter &#39;search&#39; must not contain NUL characters');
    const api = await get('/api/v1/dags?dag_id_pattern=a%00b');
    expect(await api.json()).toMatchObject({
      status: 400,
      field: 'dag_id_pattern',
      detail: expect.stringContaining('must not contain NUL characters'),
    });
  });
});

describe('API dates without an offset', () => {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { dag_runs?: { dag_run_id: string }[] },
    };
  };

  it("are read in the DAG's timezone where the route has a DAG, in UTC otherwise", async () => {
    // 'fuzzed' runs in Europe/Berlin: 2026-11-03 there is 2026-11-02T23:00:00Z.
    const trigger = await call('POST', '/dags/fuzzed/dagRuns', { logical_date: '2026-11-03' });
    expect(trigger).toMatchObject({ status: 200, body: { logical_date: '2026-11-02T23:00:00.000Z' } });
    const runId = trigger.body.dag_run_id as string;
    const ids = async (path: string) => ((await call('GET', path)).body.dag_runs ?? []).map((r) => r.dag_run_id);
    expect(await ids('/dags/fuzzed/dagRuns?execution_date_gte=2026-11-03&execution_date_lte=2026-11-03T00:00')).toEqual(
      [runId],
    );
    expect(await ids('/dags/fuzzed/dagRuns?execution_date_gte=2026-11-03T00:00:01%2B01:00')).not.toContain(runId);
    // Every DAG's runs ('~') have no one timezone: UTC.
    expect(await ids('/dags/~/dagRuns?execution_date_gte=2026-11-03')).not.toContain(runId);
    expect(
      await ids('/dags/~/dagRuns?execution_date_gte=2026-11-02T23:00Z&execution_date_lte=2026-11-02T23:00Z'),
    ).toEqual([runId]);
    expect(await call('POST', '/dags/fuzzed/clearTaskInstances', { start_date: '0001-01-01' })).toMatchObject({
      status: 400,
      body: { field: 'start_date' },
    });
    expect(await call('POST', '/dags/fuzzed/dagRuns', { logical_date: '0000-01-01' })).toMatchObject({
      status: 400,
      body: { field: 'logical_date' },
    });
  });
});
