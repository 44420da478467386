/**
 * The auth middleware on a small Hono app, through `app.request(...)` as a browser or an
 * API client would send them: who gets in, with which role, and what the CSRF check and
 * the cookie look like.
 */
import { desc, eq, like } from 'drizzle-orm';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { actorOf } from '../../src/auth/audit.js';
import { authenticate, requireRead, requireUser, type AuthOptions } from '../../src/web/auth/middleware.js';
import { authRoutes } from '../../src/web/auth/routes.js';
import { createToken } from '../../src/auth/tokens.js';
import { createUser } from '../../src/auth/users.js';
import type { Database } from '../../src/db/client.js';
import { auditLog } from '../../src/db/schema.js';
import { testDatabase } from '../support/db.js';

const PASSWORD = 'op3rator-pass-word';
const BASE = 'http://localhost';
let database: Database;
let viewerToken: string;
let operatorToken: string;

beforeAll(async () => {
  database = await testDatabase();
  await createUser(database.db, { username: 'olga', role: 'operator', password: PASSWORD, actor: 'cli:test' });
  await createUser(database.db, { username: 'victor', role: 'viewer', password: PASSWORD, actor: 'cli:test' });
  operatorToken = (await createToken(database.db, { username: 'olga', name: 'ci', actor: 'cli:test' })).token;
  viewerToken = (await createToken(database.db, { username: 'victor', actor: 'cli:test' })).token;
});

function testApp(options: Partial<AuthOptions> = {}): Hono {
  const opts: AuthOptions = { readOpen: true, sessionTtlMs: 3_600_000, ...options };
  const app = new Hono();
  app.use('*', authenticate(database.db, opts));
  app.route('/', authRoutes(database.db, opts));
  app.get('/api/v1/dags', requireRead(opts.readOpen), (c) =>
    c.json({ dags: [], user: c.get('user')?.username ?? null }),
  );
  app.post('/api/v1/dags/demo/pause', requireUser('operator'), async (c) => {
    const form = /form/.test(c.req.header('content-type') ?? '') ? await c.req.parseBody() : {};
    return c.json({ paused: true, actor: actorOf(c.get('user')!), form });
  });
  app.delete('/api/v1/users/someone', requireUser('admin'), (c) => c.body(null, 204));
  return app;
}

const app = () => testApp();
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function login(target: Hono, username = 'olga', password = PASSWORD, url = `${BASE}/api/v1/auth/login`) {
  const res = await target.request(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = /^updraft_session=([^;]+)/.exec(setCookie)?.[1];
  return {
    res,
    setCookie,
    cookie: cookie ? `updraft_session=${cookie}` : '',
    body: (await res.json()) as Record<string, unknown>,
  };
}

describe('authenticate and requireUser', () => {
  it('refuse an anonymous change with a 401 problem and a Bearer challenge', async () => {
    const res = await app().request('/api/v1/dags/demo/pause', { method: 'POST' });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="updraft"');
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail: 'authentication required: log in, or send Authorization: Bearer <API token>',
    });
  });

  it('refuse a viewer on an operator route with 403, and let an operator through with a token (no CSRF needed)', async () => {
    const viewer = await app().request('/api/v1/dags/demo/pause', { method: 'POST', headers: bearer(viewerToken) });
    expect(viewer.status).toBe(403);
    expect(await viewer.json()).toMatchObject({
      status: 403,
      title: 'Forbidden',
      detail: "this needs the operator role; 'victor' has the viewer role",
    });

    const operator = await app().request('/api/v1/dags/demo/pause', { method: 'POST', headers: bearer(operatorToken) });
    expect(operator.status).toBe(200);
    expect(await operator.json()).toMatchObject({ paused: true, actor: 'user:olga' });
    const admin = await app().request('/api/v1/users/someone', { method: 'DELETE', headers: bearer(operatorToken) });
    expect(admin.status).toBe(403);
  });

  it('answer a bad or unsupported Authorization header with 401, not as anonymous', async () => {
    const bad = await app().request('/api/v1/dags', { headers: bearer(`updr_${'x'.repeat(43)}`) });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer realm="updraft", error="invalid_token"');
    expect(await bad.json()).toMatchObject({ detail: 'API token unknown, revoked or expired' });
    const basic = await app().request('/api/v1/dags', { headers: { Authorization: 'Basic b2xnYTpwdw==' } });
    expect(basic.status).toBe(401);
    expect(await basic.json()).toMatchObject({
      detail: "unsupported Authorization header: send 'Authorization: Bearer <API token>'",
    });
  });

  it('let anyone read when reading is open, and only signed-in users when it is closed', async () => {
    const open = await testApp({ readOpen: true }).request('/api/v1/dags');
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ dags: [], user: null });

    const closed = testApp({ readOpen: false });
    const anonymous = await closed.request('/api/v1/dags');
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
    const viewer = await closed.request('/api/v1/dags', { headers: bearer(viewerToken) });
    expect(viewer.status).toBe(200);
    expect(await viewer.json()).toEqual({ dags: [], user: 'victor' });
  });
});

describe("standalone's local token (the CLI on this machine)", () => {
  const local = () => testApp({ localToken: 'updl_test-local-token' });
  const from = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });
  const change = (headers: Record<string, string>, env?: unknown) =>
    local().request('/api/v1/dags/demo/pause', { method: 'POST', headers }, env);

  it('lets the CLI in over loopback as an operator named by its actor header', async () => {
    const res = await change({ ...bearer('updl_test-local-token'), 'X-Updraft-Actor': 'cli:alice' }, from('127.0.0.1'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ actor: 'cli:alice' });
    expect(
      (await change({ ...bearer('updl_test-local-token'), 'X-Updraft-Actor': 'cli:x; drop table' }, from('::1')))
        .status,
    ).toBe(200);
    expect(
      await (
        await change({ ...bearer('updl_test-local-token'), 'X-Updraft-Actor': 'user:admin' }, from('::ffff:127.0.0.1'))
      ).json(),
    ).toMatchObject({ actor: 'cli:unknown' });
    // Not an admin.
    const admin = await local().request(
      '/api/v1/users/someone',
      { method: 'DELETE', headers: bearer('updl_test-local-token') },
      from('127.0.0.1'),
    );
    expect(admin.status).toBe(403);
  });

  it('refuses it from any other address, and without a socket to tell', async () => {
    for (const env of [from('10.0.0.5'), from('::ffff:192.168.1.2'), undefined]) {
      const res = await change(bearer('updl_test-local-token'), env);
      expect(res.status).toBe(401);
      expect((await res.json()) as Record<string, unknown>).toMatchObject({
        detail: 'the local token is accepted from this machine only',
      });
    }
  });
});

describe('login with a session cookie', () => {
  it('sets an HttpOnly, SameSite cookie and returns the CSRF token, never the cookie value', async () => {
    const { res, setCookie, cookie, body } = await login(app());
    expect(res.status).toBe(200);
    expect(setCookie).toMatch(/^updraft_session=[A-Za-z0-9_-]{43}; Max-Age=3600; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(body).toEqual({
      username: 'olga',
      role: 'operator',
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect(JSON.stringify(body)).not.toContain(cookie.split('=')[1]);

    const https = await login(app(), 'olga', PASSWORD, 'https://updraft.example/api/v1/auth/login');
    expect(https.setCookie).toMatch(/; Secure/);
    const proxied = await app().request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-Proto': 'https' },
      body: JSON.stringify({ username: 'olga', password: PASSWORD }),
    });
    expect(proxied.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('refuses a POST without the CSRF token (403), and accepts it in the header or a form field', async () => {
    const target = app();
    const { cookie, body } = await login(target);
    const csrfToken = body.csrfToken as string;

    const missing = await target.request('/api/v1/dags/demo/pause', { method: 'POST', headers: { Cookie: cookie } });
    expect(missing.status).toBe(403);
    expect(await missing.json()).toEqual({
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      detail: 'CSRF token missing or wrong',
    });
    const wrong = await target.request('/api/v1/dags/demo/pause', {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': `${csrfToken}x` },
    });
    expect(wrong.status).toBe(403);

    const header = await target.request('/api/v1/dags/demo/pause', {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken },
    });
    expect(header.status).toBe(200);
    expect(await header.json()).toMatchObject({ paused: true, actor: 'user:olga' });

    // An HTML form: the token in its _csrf field, and the route still reads the form.
    const form = await target.request('/api/v1/dags/demo/pause', {
      method: 'POST',
      headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrfToken, note: 'from a form' }).toString(),
    });
    expect(form.status).toBe(200);
    expect(await form.json()).toMatchObject({ form: { note: 'from a form' } });
    const badForm = await target.request('/api/v1/dags/demo/pause', {
      method: 'POST',
      headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ note: 'forged' }).toString(),
    });
    expect(badForm.status).toBe(403);

    // Reading needs no CSRF token.
    const read = await target.request('/api/v1/dags', { headers: { Cookie: cookie } });
    expect(await read.json()).toEqual({ dags: [], user: 'olga' });
  });

  it('me shows the user and the CSRF token; logout ends the session and clears the cookie', async () => {
    const target = app();
    const { cookie, body } = await login(target);
    const me = await target.request('/api/v1/auth/me', { headers: { Cookie: cookie } });
    expect(await me.json()).toEqual({ username: 'olga', role: 'operator', via: 'session', csrfToken: body.csrfToken });
    const viaToken = await target.request('/api/v1/auth/me', { headers: bearer(operatorToken) });
    expect(await viaToken.json()).toEqual({ username: 'olga', role: 'operator', via: 'token' });

    expect((await target.request('/api/v1/auth/logout', { method: 'POST', headers: { Cookie: cookie } })).status).toBe(
      403,
    );
    const out = await target.request('/api/v1/auth/logout', {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': body.csrfToken as string },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^updraft_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Lax/);

    // The old cookie is now anonymous, and is removed.
    const after = await target.request('/api/v1/auth/me', { headers: { Cookie: cookie } });
    expect(after.status).toBe(401);
    expect(after.headers.get('set-cookie')).toMatch(/^updraft_session=; Max-Age=0/);
    const change = await target.request('/api/v1/dags/demo/pause', {
      method: 'POST',
      headers: { Cookie: cookie, 'X-CSRF-Token': body.csrfToken as string },
    });
    expect(change.status).toBe(401);
  });

  it('ends at the session TTL', async () => {
    let now = new Date();
    const target = testApp({ sessionTtlMs: 60_000, now: () => now });
    const { cookie } = await login(target);
    expect((await target.request('/api/v1/auth/me', { headers: { Cookie: cookie } })).status).toBe(200);
    now = new Date(now.getTime() + 60_000);
    expect((await target.request('/api/v1/auth/me', { headers: { Cookie: cookie } })).status).toBe(401);
  });

  it('a new login replaces the session the browser had (no fixation), without asking for its CSRF token', async () => {
    const target = app();
    const first = await login(target);
    const second = await target.request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: first.cookie },
      body: JSON.stringify({ username: 'victor', password: PASSWORD }),
    });
    expect(second.status).toBe(200);
    expect((await target.request('/api/v1/auth/me', { headers: { Cookie: first.cookie } })).status).toBe(401);
  });

  it('says the same for an unknown user and a wrong password, and checks the body', async () => {
    const unknown = await login(app(), 'nobody', PASSWORD);
    const wrong = await login(app(), 'olga', 'not-the-password');
    expect(unknown.res.status).toBe(401);
    expect(wrong.res.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body).toMatchObject({ detail: 'wrong username or password' });
    expect(wrong.setCookie).toBe('');

    const form = await app().request('/api/v1/auth/login', {
      method: 'POST',
      body: new URLSearchParams({ username: 'olga', password: PASSWORD }),
    });
    expect(form.status).toBe(400);
    const missing = await app().request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"username":"olga"}',
    });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ field: 'password' });
  });

  it('audits logins and failures without a password, a token or a cookie', async () => {
    const rows = await database.db
      .select()
      .from(auditLog)
      .where(like(auditLog.action, 'auth.%'))
      .orderBy(desc(auditLog.at));
    const actions = new Set(rows.map((r) => r.action));
    expect(actions).toEqual(new Set(['auth.login', 'auth.login_failed', 'auth.logout']));
    const [success] = await database.db.select().from(auditLog).where(eq(auditLog.action, 'auth.login')).limit(1);
    expect(success).toMatchObject({ actor: 'user:olga', details: { username: 'olga' } });
    const failures = rows
      .filter((r) => r.action === 'auth.login_failed')
      .map((r) => ({ actor: r.actor, details: r.details }));
    expect(failures).toEqual(
      expect.arrayContaining([
        { actor: 'anonymous', details: { username: 'olga', reason: 'wrong password' } },
        { actor: 'anonymous', details: { reason: 'unknown user' } },
      ]),
    );
    const text = JSON.stringify(await database.db.select().from(auditLog));
    for (const secret of [PASSWORD, 'not-the-password', operatorToken, viewerToken]) expect(text).not.toContain(secret);
  });
});
