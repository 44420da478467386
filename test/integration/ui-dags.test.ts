/**
 * The web UI's DAG list and DAG page (grid, graph, source, runs), login and logout, and the
 * trigger and pause forms, through the real authentication middleware (session cookie and
 * CSRF) as a browser uses them.
 */
import { and, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/auth/index.js';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { auditLog, dagRuns } from '../../src/db/schema.js';
import type { Engine } from '../../src/engine/engine.js';
import { dagPages } from '../../src/web/ui/pages/dags.js';
import { loginPages } from '../../src/web/ui/pages/login.js';
import { useEngine, type FinishedRun } from '../support/engine.js';

const ETL = `import { dag } from 'updraft';

// Shown escaped on the source tab: a < b && "quoted" <script>alert(1)</script>
export default dag({
  id: 'ui_etl',
  schedule: '@daily',
  startDate: '2030-01-01',
  tags: ['etl', 'daily'],
  owner: 'data-team',
  params: { region: { type: 'string', enum: ['eu', 'us'], default: 'eu' } },
}, (t) => {
  const extract = t.task('extract', async () => 1);
  const transform = t.task('transform', async () => 2);
  const load = t.task('load', async () => 3);
  const check = t.task('check_counts', async () => 4);
  extract.then([transform, check]);
  transform.then(load);
});
`;

const OTHER = `import { dag } from 'updraft';

export default dag({ id: 'ui_other', tags: ['misc'] }, (t) => {
  t.task('only', async () => 'done');
});
`;

const BROKEN = `import { dag } from 'updraft';
export default dag({ id: 'ui_broken', schedule: 'not a cron' }, (t) => { t.task('a', async () => 1); });
`;

const BERLIN = `import { dag } from 'updraft';
export default dag({ id: 'ui_berlin', timezone: 'Europe/Berlin' }, (t) => { t.task('a', async () => 1); });
`;

const PASSWORD = 'op3rator-pass-word';
const setup = useEngine({ 'etl.ts': ETL, 'other.ts': OTHER, 'broken.ts': BROKEN, 'berlin.ts': BERLIN });

function uiApp(engine: Engine): Hono {
  const app = new Hono();
  app.use('*', authenticate(engine.database.db, authOptions(engine.config)));
  app.route('/', dagPages(engine));
  app.route('/', loginPages(engine));
  return app;
}

let app: Hono;
let run: FinishedRun;

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await app.request(path, { headers });
  return { status: res.status, html: await res.text(), res };
}

/** Logs in through the form; the cookie header to send and the session's CSRF token (read off a page's form). */
async function login(username: string) {
  const res = await app.request('/ui/login', {
    method: 'POST',
    headers: FORM,
    body: form({ username, password: PASSWORD, next: '/ui/dags/ui_etl' }),
  });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/ui/dags/ui_etl');
  const value = /updraft_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  expect(value).toBeTruthy();
  const cookie = `updraft_session=${value}`;
  const page = await get('/', { Cookie: cookie });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)?.[1];
  expect(csrf).toBeTruthy();
  return { cookie, csrf: csrf! };
}

beforeAll(async () => {
  const { database, h } = setup();
  app = uiApp(h.engine);
  await createUser(database.db, { username: 'olga', role: 'operator', password: PASSWORD, actor: 'cli:test' });
  await createUser(database.db, { username: 'victor', role: 'viewer', password: PASSWORD, actor: 'cli:test' });
  run = await h.run('ui_etl', { logicalDate: new Date('2030-01-05T00:00:00Z') });
});

describe('the DAG list', () => {
  it('lists the DAGs with schedule, owner, tags, last runs and next run, and a banner for the broken file', async () => {
    const { status, html } = await get('/');
    expect(status).toBe(200);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('href="/ui/dags/ui_etl"');
    expect(html).toContain('href="/ui/dags/ui_other"');
    expect(html).not.toContain('ui_broken');
    expect(html).toContain('<code>@daily</code>');
    expect(html).toContain('data-team');
    expect(html).toContain('href="/?tag=etl"');
    // The finished run as a green square linking to its page; the next run of the daily schedule.
    expect(html).toContain(`class="sq s-success" href="/ui/dags/ui_etl/runs/${encodeURIComponent(run.runId)}"`);
    expect(html).toContain('2030-01-01 00:00:00Z');
    expect(html).toMatch(/<p class="banner"><a href="\/ui\/import-errors">1 DAG file failed to load<\/a><\/p>/);
    // Anonymous: the pause switch is shown but not usable.
    expect(html).toContain('disabled="" title="log in as an operator"');
    expect(html).toContain('data-live="/?fragment=list"');
  });

  it('filters by tag, by search and by paused', async () => {
    const byTag = (await get('/?tag=misc')).html;
    expect(byTag).toContain('href="/ui/dags/ui_other"');
    expect(byTag).not.toContain('href="/ui/dags/ui_etl"');
    expect(byTag).toContain('data-live="/?fragment=list&amp;tag=misc"');
    const bySearch = (await get('/?search=ETL')).html;
    expect(bySearch).toContain('href="/ui/dags/ui_etl"');
    expect(bySearch).not.toContain('href="/ui/dags/ui_other"');
    expect((await get('/?paused=true')).html).toContain('No DAGs match.');
  });

  it('answers ?fragment=list with the rows only', async () => {
    const { status, html } = await get('/?fragment=list&tag=etl');
    expect(status).toBe(200);
    expect(html.startsWith('<tr')).toBe(true);
    expect(html).not.toContain('<html');
    expect(html).toContain('href="/ui/dags/ui_etl"');
    expect(html).not.toContain('ui_other');
  });
});

describe('the DAG page', () => {
  it('shows the grid: a column per run, a row per task in topological order, cells linking to task instances', async () => {
    const { status, html } = await get('/ui/dags/ui_etl');
    expect(status).toBe(200);
    const order = ['extract', 'transform', 'check_counts', 'load'].map((task) =>
      html.indexOf(`<td class="gtask">${task} `),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect(order.indexOf(Math.min(...order))).toBe(0);
    expect(order[3]).toBeGreaterThan(order[1]!);
    const runPath = `/ui/dags/ui_etl/runs/${encodeURIComponent(run.runId)}`;
    expect(html).toContain(`href="${runPath}"`);
    for (const task of ['extract', 'transform', 'load', 'check_counts']) {
      expect(html).toMatch(
        new RegExp(
          `class="sq s-success" href="${runPath.replace(/[+.]/g, '\\$&')}/tasks/${task}" title="${task}\\n${run.runId.replace(/[+.]/g, '\\$&')}\\nsuccess, try 1"`,
        ),
      );
    }
    expect(html).toContain('data-live="/ui/dags/ui_etl?fragment=grid"');
    // Details on every tab.
    expect(html).toContain('<dd>UTC</dd>');
    expect(html).toContain('data-team');
  });

  it('answers ?fragment=grid with the grid only', async () => {
    const { html } = await get('/ui/dags/ui_etl?fragment=grid');
    expect(html.startsWith('<table class="grid">')).toBe(true);
    expect(html).not.toContain('<html');
  });

  it('keeps the details and the runs tab live too: ?fragment=details and ?fragment=runs', async () => {
    const page = (await get('/ui/dags/ui_etl?view=runs')).html;
    expect(page).toContain('data-live="/ui/dags/ui_etl?fragment=details"');
    expect(page).toContain('data-live="/ui/dags/ui_etl?view=runs&amp;fragment=runs"');
    const details = await get('/ui/dags/ui_etl?fragment=details');
    expect(details.html).toMatch(/^<dl class="dag-details">/);
    expect(details.html).toContain('<dd>UTC</dd>');
    const runs = await get('/ui/dags/ui_etl?view=runs&fragment=runs');
    expect(runs.html).toMatch(/^<table class="runs">/);
    expect(runs.html).toContain('<span class="state s-success">success</span>');
  });

  it('draws the graph: a node per task, an edge per dependency, coloured by the chosen run', async () => {
    const { html } = await get('/ui/dags/ui_etl?view=graph');
    expect(html).toContain('<svg class="dag-graph"');
    for (const task of ['extract', 'transform', 'load', 'check_counts'])
      expect(html).toContain(`data-task="${task}" data-state="success"`);
    for (const edge of ['extract->transform', 'extract->check_counts', 'transform->load'])
      expect(html).toContain(`data-edge="${edge.replace('>', '&gt;')}"`);
    expect(html.match(/class="edge"/g)).toHaveLength(3);
    expect(html).toContain(`<option value="${run.runId}" selected="">`);
    const fragment = (await get(`/ui/dags/ui_etl?view=graph&fragment=graph&run=${encodeURIComponent(run.runId)}`)).html;
    expect(fragment.startsWith('<svg')).toBe(true);
    expect((await get('/ui/dags/ui_etl?view=graph&run=nope')).status).toBe(404);
  });

  it('shows the source, escaped', async () => {
    const { html } = await get('/ui/dags/ui_etl?view=source');
    expect(html).toContain('a &lt; b &amp;&amp; &quot;quoted&quot; &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('id: &#39;ui_etl&#39;');
  });

  it('lists the runs', async () => {
    const { html } = await get('/ui/dags/ui_etl?view=runs');
    expect(html).toContain(`>${run.runId}</a>`);
    expect(html).toContain('<span class="state s-success">success</span>');
    expect(html).toContain('page 1 of 1');
  });

  it('says so for an unknown DAG', async () => {
    const { status, html } = await get('/ui/dags/nope');
    expect(status).toBe(404);
    expect(html).toContain('no DAG with id &#39;nope&#39;');
    expect(html).toContain('<!doctype html>');
  });
});

describe('login, actions and logout', () => {
  it('logs in with the form, and refuses a wrong password with 401', async () => {
    const wrong = await app.request('/ui/login', {
      method: 'POST',
      headers: FORM,
      body: form({ username: 'olga', password: 'nope-nope', next: '/' }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('wrong username or password');
    const { cookie } = await login('olga');
    expect((await get('/', { Cookie: cookie })).html).toContain('olga (operator)');
    // Only a path of this site is followed after a login.
    const off = await app.request('/ui/login', {
      method: 'POST',
      headers: FORM,
      body: form({ username: 'olga', password: PASSWORD, next: '//evil.example/' }),
    });
    expect(off.headers.get('location')).toBe('/');
  });

  it('logs in with a stale cookie, without a CSRF token', async () => {
    const res = await app.request('/ui/login', {
      method: 'POST',
      headers: { ...FORM, Cookie: 'updraft_session=stale' },
      body: form({ username: 'olga', password: PASSWORD }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/updraft_session=[^;]{20,}/);
  });

  it('triggers a run with a confirmed form, audited, and redirects to the run', async () => {
    const { cookie, csrf } = await login('olga');
    const page = (await get('/ui/dags/ui_etl', { Cookie: cookie })).html;
    expect(page).toContain('action="/ui/dags/ui_etl/trigger"');
    expect(page).toContain('onsubmit="return confirm(&quot;Trigger a run of ui_etl?&quot;)"');
    expect(page).toMatch(/<textarea name="conf"[^>]*>\{\n {2}&quot;region&quot;: &quot;eu&quot;\n\}<\/textarea>/);
    const res = await app.request('/ui/dags/ui_etl/trigger', {
      method: 'POST',
      headers: { ...FORM, Cookie: cookie },
      body: form({ _csrf: csrf, conf: '{"region": "us"}', logical_date: '2030-03-01T06:00' }),
    });
    expect(res.status).toBe(303);
    const runId = 'manual__2030-03-01T06:00:00+00:00';
    expect(res.headers.get('location')).toBe(`/ui/dags/ui_etl/runs/${encodeURIComponent(runId)}`);
    const db = setup().database.db;
    const [stored] = await db.select({ conf: dagRuns.conf }).from(dagRuns).where(eq(dagRuns.runId, runId));
    expect(stored?.conf).toEqual({ region: 'us' });
    const [audited] = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'dag.trigger'), eq(auditLog.runId, runId)));
    expect(audited?.actor).toBe('user:olga');
  });

  it("reads the trigger form's date without an offset in the DAG's timezone, and says so", async () => {
    const { cookie, csrf } = await login('olga');
    const page = (await get('/ui/dags/ui_berlin', { Cookie: cookie })).html;
    // DATE_INPUT_RULE, naming the DAG's zone.
    expect(page).toContain(
      "A date without Z or an offset is read in the DAG's timezone (Europe/Berlin) ('2026-11-03' is midnight there), in UTC where there is no DAG; with Z or an offset (+01:00) it is that instant.".replaceAll(
        "'",
        '&#39;',
      ),
    );
    expect(page).not.toContain('UTC without an offset');
    const cases: [string, string][] = [
      ['2030-03-01T06:00', 'manual__2030-03-01T05:00:00+00:00'],
      ['2030-07-01', 'manual__2030-06-30T22:00:00+00:00'],
      ['2030-03-02T06:00Z', 'manual__2030-03-02T06:00:00+00:00'],
      ['2030-03-03T06:00+02:00', 'manual__2030-03-03T04:00:00+00:00'],
    ];
    for (const [typed, runId] of cases) {
      const res = await app.request('/ui/dags/ui_berlin/trigger', {
        method: 'POST',
        headers: { ...FORM, Cookie: cookie },
        body: form({ _csrf: csrf, conf: '{}', logical_date: typed }),
      });
      expect(res.status, typed).toBe(303);
      expect(res.headers.get('location'), typed).toBe(`/ui/dags/ui_berlin/runs/${encodeURIComponent(runId)}`);
    }
  });

  it('re-renders the trigger form with the error for bad JSON, a conf not matching the params, a bad date', async () => {
    const { cookie, csrf } = await login('olga');
    const cases: [Record<string, string>, number, RegExp][] = [
      [{ conf: '{"region": ' }, 400, /conf is not valid JSON/],
      [{ conf: '[1]' }, 400, /conf must be a JSON object/],
      [
        { conf: '{"region": "asia"}' },
        400,
        /region: value &quot;asia&quot; is not one of &quot;eu&quot;, &quot;us&quot;/,
      ],
      [
        { conf: '{}', logical_date: 'tomorrow' },
        400,
        /logical date: cannot read date &#39;tomorrow&#39;: expected &#39;YYYY-MM-DD&#39;/,
      ],
      [
        { conf: '{}', logical_date: '2030-03-01T06:00' },
        409,
        /already has a run with logical date 2030-03-01T06:00:00.000Z/,
      ],
    ];
    for (const [fields, status, message] of cases) {
      const res = await app.request('/ui/dags/ui_etl/trigger', {
        method: 'POST',
        headers: { ...FORM, Cookie: cookie },
        body: form({ _csrf: csrf, ...fields }),
      });
      expect(res.status).toBe(status);
      const html = await res.text();
      expect(html).toMatch(message);
      // The form comes back open, with what was typed.
      expect(html).toContain('<details open="">');
      expect(html).toContain(`${fields.conf!.replace(/"/g, '&quot;')}</textarea>`);
    }
  });

  it('refuses a form without the CSRF token, and sends an anonymous browser to log in', async () => {
    const { cookie } = await login('olga');
    const noCsrf = await app.request('/ui/dags/ui_etl/trigger', {
      method: 'POST',
      headers: { ...FORM, Cookie: cookie },
      body: form({ conf: '{}' }),
    });
    expect(noCsrf.status).toBe(403);
    const anonymous = await app.request('/ui/dags/ui_etl/pause', {
      method: 'POST',
      headers: FORM,
      body: form({ paused: 'true' }),
    });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe(`/ui/login?next=${encodeURIComponent('/ui/dags/ui_etl')}`);
  });

  it('gives a viewer a 403 page and a disabled switch', async () => {
    const { cookie, csrf } = await login('victor');
    expect((await get('/', { Cookie: cookie })).html).toContain('title="log in as an operator"');
    const res = await app.request('/ui/dags/ui_etl/pause', {
      method: 'POST',
      headers: { ...FORM, Cookie: cookie },
      body: form({ _csrf: csrf, paused: 'true' }),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('This needs the operator role');
  });

  it('pauses and unpauses from the list, audited', async () => {
    const { cookie, csrf } = await login('olga');
    const list = (await get('/?tag=etl', { Cookie: cookie })).html;
    expect(list).toContain('action="/ui/dags/ui_etl/pause"');
    expect(list).toContain('<input type="hidden" name="paused" value="true"/>');
    const res = await app.request('/ui/dags/ui_etl/pause', {
      method: 'POST',
      headers: { ...FORM, Cookie: cookie },
      body: form({ _csrf: csrf, paused: 'true', next: '/?tag=etl' }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/?tag=etl');
    expect((await get('/?paused=true')).html).toContain('href="/ui/dags/ui_etl"');
    await app.request('/ui/dags/ui_etl/pause', {
      method: 'POST',
      headers: { ...FORM, Cookie: cookie },
      body: form({ _csrf: csrf, paused: 'false' }),
    });
    expect((await get('/?paused=false')).html).toContain('href="/ui/dags/ui_etl"');
    const rows = await setup()
      .database.db.select({ action: auditLog.action, actor: auditLog.actor })
      .from(auditLog)
      .where(eq(auditLog.dagId, 'ui_etl'));
    expect(rows).toEqual(
      expect.arrayContaining([
        { action: 'dag.pause', actor: 'user:olga' },
        { action: 'dag.unpause', actor: 'user:olga' },
      ]),
    );
  });

  it('logs out', async () => {
    const { cookie, csrf } = await login('olga');
    const res = await app.request('/ui/logout', {
      method: 'POST',
      headers: { ...FORM, Cookie: cookie },
      body: form({ _csrf: csrf }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    expect((await get('/', { Cookie: cookie })).html).toContain('href="/ui/login?next=%2F"');
  });
});

describe('with reading closed', () => {
  it('sends an anonymous browser to log in, and shows the pages to a viewer', async () => {
    const { h } = setup();
    const closed = Object.create(h.engine, { config: { value: { ...h.engine.config, authRead: 'closed' } } }) as Engine;
    const open = app;
    app = uiApp(closed);
    try {
      const res = await app.request('/ui/dags/ui_etl?view=runs');
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`/ui/login?next=${encodeURIComponent('/ui/dags/ui_etl?view=runs')}`);
      expect((await app.request('/ui/login')).status).toBe(200);
      const { cookie } = await login('victor');
      expect((await get('/ui/dags/ui_etl?view=runs', { Cookie: cookie })).status).toBe(200);
    } finally {
      app = open;
    }
  });
});
