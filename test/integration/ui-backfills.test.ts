/**
 * The web UI's backfills, through the real authentication middleware (session cookies and
 * CSRF form fields) with a real engine running them: the DAG page's backfills tab and its
 * create form (refusals shown on the page, naming what is wrong), the backfill page (its
 * progress, its dates linked to their runs, live fragments), the list, and the pause,
 * resume and cancel forms, audited, and refused to whoever may not use them.
 */
import { and, eq, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/auth/index.js';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { createBackfill } from '../../src/backfill/create.js';
import { auditLog, backfills, dagRuns } from '../../src/db/schema.js';
import type { Engine } from '../../src/engine/engine.js';
import { uiRoutes } from '../../src/web/ui/index.js';
import { useEngine } from '../support/engine.js';
import { uiClient, uiSessions, type Session } from '../support/ui.js';

const DAGS = `import { dag } from 'updraft';

export const quick = dag({ id: 'ui_bf_quick', schedule: '@daily', startDate: '2026-01-01', params: { label: { type: 'string', default: 'x' } } }, (t) => {
  t.task('a', async (ctx) => ctx.params.label);
});

// 'wait' ends only when its signal is aborted.
export const waits = dag({ id: 'ui_bf_waits', schedule: '@daily', startDate: '2026-01-01' }, (t) => {
  t.task('wait', async (ctx) => {
    await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
  });
});

export const manual = dag({ id: 'ui_bf_manual', schedule: null }, (t) => void t.task('a', async () => 1));
`;

// Paused DAGs: no scheduled run gets in the way; backfills run paused DAGs all the same.
const setup = useEngine({ 'bf.ts': DAGS }, { env: { UPDRAFT_DAGS_PAUSED_AT_CREATION: 'true' } });

let app: Hono;
let sessions: Partial<Record<Role, Session>> = {};
const { get, post } = uiClient(() => app);

function appOf(engine: Engine): Hono {
  const a = new Hono();
  a.use('*', authenticate(engine.database.db, authOptions(engine.config)));
  a.route('/', uiRoutes(engine));
  return a;
}

beforeAll(async () => {
  const { h, database } = setup();
  app = appOf(h.engine);
  h.engine.bus.on('backfill:completed', ({ id }) => {
    completedIds.add(id);
    waiters.get(id)?.();
  });
  sessions = await uiSessions(database.db, 'bf');
});

/** Backfills the engine said completed, kept from the start, so that an end before its waiter exists is not missed. */
const completedIds = new Set<number>();
const waiters = new Map<number, () => void>();

function completion(id: number, timeoutMs = 20_000): Promise<void> {
  if (completedIds.has(id)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters.delete(id);
      reject(new Error(`backfill ${id} did not complete within ${timeoutMs} ms`));
    }, timeoutMs);
    waiters.set(id, () => {
      clearTimeout(timer);
      waiters.delete(id);
      resolve();
    });
  });
}

async function audits(action: string) {
  return setup()
    .database.db.select({ actor: auditLog.actor, dagId: auditLog.dagId, details: auditLog.details })
    .from(auditLog)
    .where(eq(auditLog.action, action));
}

const CREATE = {
  from: '2026-01-01',
  to: '2026-01-03',
  reprocess: 'none',
  max_active_runs: '2',
  conf: '{"label": "again"}',
};

describe('creating a backfill from the DAG page', () => {
  it('shows the tab with its form to an operator, creates the backfill, which runs to the end, and its page shows every date with its run', async () => {
    const { database } = setup();
    const tab = await get('/ui/dags/ui_bf_quick?view=backfills', sessions.operator);
    expect(tab.status).toBe(200);
    expect(tab.html).toContain('<a href="/ui/dags/ui_bf_quick?view=backfills" class="current">Backfills</a>');
    expect(tab.html).toMatch(
      /<form method="post" action="\/ui\/dags\/ui_bf_quick\/backfills" class="trigger backfill" onsubmit="return confirm\(/,
    );
    expect(tab.html).toContain(`name="_csrf" value="${sessions.operator!.csrf}"`);
    expect(tab.html).toContain(
      "A date without Z or an offset is read in the DAG's timezone (UTC) ('2026-11-03' is midnight there)".replaceAll(
        "'",
        '&#39;',
      ),
    );
    expect(tab.html).toContain('No backfills.');
    expect(tab.html).toContain('data-live="/ui/dags/ui_bf_quick?view=backfills&amp;fragment=backfills"');

    const res = await post('/ui/dags/ui_bf_quick/backfills', sessions.operator, CREATE);
    expect(res.status).toBe(303);
    const location = res.res.headers.get('location')!;
    expect(location).toMatch(/^\/ui\/backfills\/\d+$/);
    const id = Number(location.split('/').pop());
    await completion(id);

    expect(await audits('backfill.create')).toMatchObject([
      {
        actor: 'user:bf_operator',
        dagId: 'ui_bf_quick',
        details: { backfillId: id, maxActiveRuns: 2, conf: { label: 'again' } },
      },
    ]);
    const runs = await database.db
      .select({ runId: dagRuns.runId, state: dagRuns.state, conf: dagRuns.conf })
      .from(dagRuns)
      .where(eq(dagRuns.backfillId, id));
    expect(runs).toHaveLength(3);
    expect(runs.every((r) => r.state === 'success' && (r.conf as { label: string }).label === 'again')).toBe(true);

    const page = await get(location, sessions.operator);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`<title>Backfill #${id} of ui_bf_quick · Updraft</title>`);
    expect(page.html).toContain(
      '<span class="state s-completed">completed</span> <strong class="bf-done">3/3</strong> dates done',
    );
    expect(page.html).toMatch(
      /<div class="bf-bar" [^>]*><span class="s-success" style="width:100.00%" title="3 succeeded" data-count="3"><\/span><\/div>/,
    );
    expect(page.html).toContain('<td data-count="succeeded">3</td>');
    expect(page.html).toContain('<td data-count="failed">0</td>');
    expect(page.html).toContain('<td data-count="pending">0</td>');
    expect(page.html).toContain('<th>Max active runs</th><td>2</td>');
    expect(page.html).toContain('&quot;label&quot;: &quot;again&quot;');
    for (const day of ['01', '02', '03']) {
      const runId = `backfill__2026-01-${day}T00:00:00+00:00`;
      const href = `/ui/dags/ui_bf_quick/runs/${encodeURIComponent(runId)}`;
      expect(page.html).toContain(
        `<td><a href="${href}"><time datetime="2026-01-${day}T00:00:00.000Z">2026-01-${day} 00:00:00Z</time></a></td><td>created</td><td><a href="${href}">${runId}</a></td><td><span class="state s-success">success</span></td>`,
      );
      expect((await get(href)).status).toBe(200);
    }
    // Finished: nothing to pause, resume or cancel.
    expect(page.html).not.toMatch(/action="\/ui\/backfills\/\d+\/(pause|resume|cancel)"/);
    expect(page.html).toContain(`data-live="/ui/backfills/${id}?fragment=summary"`);
    expect(page.html).toContain(`data-live="/ui/backfills/${id}?fragment=dates"`);

    // The live fragments answer without the layout.
    const summary = await get(`${location}?fragment=summary`);
    expect(summary.html).toMatch(/^<p class="bf-state"><span class="state s-completed">/);
    expect(summary.html).not.toContain('<html');
    const dates = await get(`${location}?fragment=dates&state=success`);
    expect(dates.html).toMatch(/^<table class="bf-dates">/);
    expect(dates.html.match(/<tr data-ordinal=/g)).toHaveLength(3);
    expect((await get(`${location}?fragment=dates&state=failed`)).html).toBe(
      '<p class="muted">No date has a run in state failed.</p>',
    );

    // The DAG's tab lists it, and so does the list of every backfill.
    const listed = await get('/ui/dags/ui_bf_quick?view=backfills&fragment=backfills');
    expect(listed.html).toMatch(/^<table class="backfills">/);
    expect(listed.html).toContain(
      `<tr data-backfill="${id}"><td><a href="/ui/backfills/${id}">#${id}</a></td><td class="range">`,
    );
    const all = await get('/ui/backfills');
    expect(all.html).toContain('<a href="/ui/backfills" class="current">Backfills</a>');
    expect(all.html).toMatch(
      new RegExp(
        `<tr data-backfill="${id}"><td><a href="/ui/backfills/${id}">#${id}</a></td><td><a href="/ui/dags/ui_bf_quick">ui_bf_quick</a></td><td class="range">.*?<td>none</td><td><span class="state s-completed">completed</span></td><td class="bf-progress">.*?<span class="small">3/3</span></td><td><span class="muted">0</span></td><td>user:bf_operator</td>`,
      ),
    );
    expect(all.html).toContain('data-live="/ui/backfills?fragment=list"');
    expect((await get('/ui/backfills?state=running')).html).not.toContain(`data-backfill="${id}"`);
    expect((await get('/ui/backfills?fragment=list&dag=ui_bf_quick')).html).toMatch(/^<tr data-backfill=/);
  });

  it('shows what was wrong on the page, with the form open and as it was filled in', async () => {
    const { database } = setup();
    const before = (await database.db.select({ n: sql<number>`count(*)::int` }).from(backfills))[0]!.n;
    const cases: [string, Record<string, string>, number, string][] = [
      [
        'ui_bf_quick',
        { ...CREATE, from: '2026-01-32' },
        400,
        'from: cannot read date &#39;2026-01-32&#39;: there is no day 32',
      ],
      ['ui_bf_quick', { ...CREATE, to: 'soon' }, 400, 'to: cannot read date &#39;soon&#39;'],
      ['ui_bf_quick', { ...CREATE, from: '2026-02-01' }, 400, 'the range is empty'],
      ['ui_bf_quick', { ...CREATE, conf: '{"label": ' }, 400, 'conf is not valid JSON'],
      ['ui_bf_quick', { ...CREATE, conf: '[1]' }, 400, 'conf must be a JSON object'],
      [
        'ui_bf_quick',
        { ...CREATE, conf: '{"label": 3}' },
        400,
        'conf does not match the params of DAG &#39;ui_bf_quick&#39;: label: ',
      ],
      [
        'ui_bf_quick',
        { ...CREATE, max_active_runs: 'many' },
        400,
        'max active runs must be a whole number from 1 to 2147483647, not &#39;many&#39;',
      ],
      [
        'ui_bf_quick',
        { ...CREATE, max_active_runs: '0' },
        400,
        'max active runs must be a whole number from 1 to 2147483647, not &#39;0&#39;',
      ],
      [
        'ui_bf_quick',
        { ...CREATE, max_active_runs: '2147483648' },
        400,
        'max active runs must be a whole number from 1 to 2147483647, not &#39;2147483648&#39;',
      ],
      ['ui_bf_quick', { ...CREATE, reprocess: 'sometimes' }, 400, 'reprocess must be one of none, failed, completed'],
      ['ui_bf_manual', CREATE, 400, 'DAG &#39;ui_bf_manual&#39; has no schedule intervals to backfill'],
    ];
    for (const [dagId, fields, status, message] of cases) {
      const res = await post(`/ui/dags/${dagId}/backfills`, sessions.operator, fields);
      expect({ fields, status: res.status }).toEqual({ fields, status });
      expect(res.html).toContain(`<p class="banner backfill-error">${message}`);
      expect(res.html).toContain('<details open="">');
      expect(res.html).toContain(`name="from" value="${fields.from}"`);
      expect(res.html).toContain(`${fields.conf!.replace(/"/g, '&quot;')}</textarea>`);
    }
    expect((await post('/ui/dags/nope/backfills', sessions.operator, CREATE)).status).toBe(404);
    expect((await database.db.select({ n: sql<number>`count(*)::int` }).from(backfills))[0]!.n).toBe(before);
  });
});

describe('pause, resume and cancel', () => {
  it('change the backfill through its forms, audited; a second backfill and a refused action are shown on the page', async () => {
    const { h, database } = setup();
    const running = h.next('task:state', (e) => e.taskId === 'wait' && e.state === 'running');
    const b = await createBackfill(
      database.db,
      { dagId: 'ui_bf_waits', from: '2026-01-01', to: '2026-01-03', maxActiveRuns: 1 },
      'test',
    );
    await running;
    const base = `/ui/backfills/${b.id}`;

    const page = await get(base, sessions.operator);
    expect(page.html).toContain('<span class="state s-running">running</span>');
    expect(page.html).toMatch(
      new RegExp(`<form method="post" action="${base}/pause" class="inline" onsubmit="return confirm\\(`),
    );
    expect(page.html).toContain(`action="${base}/cancel"`);
    expect(page.html).not.toContain(`action="${base}/resume"`);
    // No sleeping on a clock: the run's row may say queued or running a moment after the task's event.
    expect(page.html).toMatch(/<td data-count="pending">2<\/td>/);

    const second = await post('/ui/dags/ui_bf_waits/backfills', sessions.operator, { ...CREATE, conf: '' });
    expect(second.status).toBe(409);
    expect(second.html).toContain(`DAG &#39;ui_bf_waits&#39; already has an unfinished backfill (${b.id}, running)`);

    const paused = await post(`${base}/pause`, sessions.operator);
    expect(paused.status).toBe(303);
    expect(paused.res.headers.get('location')).toBe(base);
    const after = await get(base, sessions.operator);
    expect(after.html).toContain('<span class="state s-paused">paused</span>');
    expect(after.html).toContain(`action="${base}/resume"`);
    expect(after.html).not.toContain(`action="${base}/pause"`);

    const refused = await post(`${base}/pause`, sessions.operator);
    expect(refused.status).toBe(409);
    expect(refused.html).toContain(
      `<p class="banner">backfill ${b.id} of DAG &#39;ui_bf_waits&#39; is paused: only a running backfill can be paused</p>`,
    );
    expect(refused.html).toContain(`<title>Backfill #${b.id} of ui_bf_waits · Updraft</title>`);

    expect((await post(`${base}/resume`, sessions.operator)).status).toBe(303);
    expect((await get(base)).html).toContain('<span class="state s-running">running</span>');

    // Cancelling stops the running try: the executor's result is then refused.
    const stopped = h.next('task:refused', (e) => e.taskId === 'wait');
    expect((await post(`${base}/cancel`, sessions.operator)).status).toBe(303);
    await stopped;
    const cancelled = await get(base, sessions.operator);
    expect(cancelled.html).toMatch(
      /<span class="state s-cancelled">cancelled<\/span> <strong class="bf-done">1\/3<\/strong> dates done/,
    );
    expect(cancelled.html).toContain('<td data-count="failed">1</td>');
    expect(cancelled.html).toContain('<td data-count="pending">2</td>');
    expect(cancelled.html).toMatch(
      /<span class="s-failed" style="width:33.33%" title="1 failed" data-count="1"><\/span>/,
    );
    expect(cancelled.html).toContain('<span class="muted">pending</span>');
    expect(cancelled.html).not.toMatch(/action="\/ui\/backfills\/\d+\/(pause|resume|cancel)"/);

    const actions = await database.db
      .select({ action: auditLog.action, actor: auditLog.actor })
      .from(auditLog)
      .where(
        and(sql`${auditLog.details}->>'backfillId' = ${String(b.id)}`, sql`${auditLog.action} <> 'backfill.create'`),
      )
      .orderBy(auditLog.at);
    expect(actions).toEqual([
      { action: 'backfill.pause', actor: 'user:bf_operator' },
      { action: 'backfill.resume', actor: 'user:bf_operator' },
      { action: 'backfill.cancel', actor: 'user:bf_operator' },
    ]);
    expect((await audits('run.cancel')).filter((a) => a.dagId === 'ui_bf_waits')).toMatchObject([
      { actor: 'user:bf_operator' },
    ]);
  });

  it('answers an unknown or malformed id with a 404 page naming it', async () => {
    for (const [path, message] of [
      ['/ui/backfills/999999', 'no backfill with id 999999'],
      ['/ui/backfills/abc', 'no backfill with id &#39;abc&#39;'],
    ]) {
      const page = await get(path!);
      expect(page.status, path).toBe(404);
      expect(page.html).toContain(message!);
    }
    expect((await post('/ui/backfills/999999/pause', sessions.operator)).status).toBe(404);
  });
});

describe('who may act', () => {
  it('shows no forms to a viewer or anonymously, answers a viewer 403, sends an anonymous browser to log in, and refuses a form without CSRF', async () => {
    const { database } = setup();
    const [b] = await database.db.select({ id: backfills.id }).from(backfills).where(eq(backfills.state, 'completed'));
    const base = `/ui/backfills/${b!.id}`;
    for (const who of [undefined, sessions.viewer]) {
      expect((await get(base, who)).html).not.toContain('<form method="post" action="/ui/backfills');
      const tab = await get('/ui/dags/ui_bf_quick?view=backfills', who);
      expect(tab.html).toContain('Log in as an operator to create a backfill.');
      expect(tab.html).not.toContain('action="/ui/dags/ui_bf_quick/backfills"');
    }
    const viewer = await post('/ui/dags/ui_bf_quick/backfills', sessions.viewer, CREATE);
    expect(viewer.status).toBe(403);
    expect(viewer.html).toContain('This needs the operator role; &#39;bf_viewer&#39; has the viewer role.');
    expect((await post(`${base}/cancel`, sessions.viewer)).status).toBe(403);

    const anonymous = await post('/ui/dags/ui_bf_quick/backfills', undefined, CREATE);
    expect(anonymous.status).toBe(303);
    expect(anonymous.res.headers.get('location')).toBe(
      `/ui/login?next=${encodeURIComponent('/ui/dags/ui_bf_quick?view=backfills')}`,
    );
    const anonymousPause = await post(`${base}/pause`, undefined);
    expect(anonymousPause.res.headers.get('location')).toBe(`/ui/login?next=${encodeURIComponent(base)}`);

    expect((await post('/ui/dags/ui_bf_quick/backfills', sessions.operator, CREATE, false)).status).toBe(403);
    expect(await audits('backfill.create')).toHaveLength(2);
  });
});
