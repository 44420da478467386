/**
 * The web UI's run, task instance, import error, audit and report pages, through the real
 * authentication middleware with session cookies and CSRF form fields: what a person sees
 * (tasks with their states, a Gantt bar per task, each try's log, XCom, params) and what
 * their forms do (clear, mark, cancel), who may submit them, and how refusals read.
 */
import { and, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/auth/index.js';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { auditLog, dagRuns, reports, taskInstances } from '../../src/db/schema.js';
import type { Engine } from '../../src/engine/engine.js';
import { triggerRun } from '../../src/scheduler/runs.js';
import { miscPages } from '../../src/web/ui/pages/misc.js';
import { runPages } from '../../src/web/ui/pages/runs.js';
import { useEngine, type TestEngine } from '../support/engine.js';
import { uiClient, uiSessions, type Session } from '../support/ui.js';

const DAGS = `import { dag } from 'updraft';

export const flow = dag({ id: 'ui_flow', params: { region: { type: 'string', default: 'eu' } } }, (t) => {
  const extract = t.task('extract', async (ctx) => {
    ctx.log.info('extracting <rows> & more');
    return { rows: 3, region: ctx.params.region };
  });
  const transform = t.task('transform', { retries: 1, retryDelay: '50ms' }, async (ctx) => {
    ctx.log.info('transform try ' + ctx.tryNumber);
    if (ctx.tryNumber === 1) throw new Error('flaky on try 1');
    return 'ok';
  });
  const load = t.task('load', async () => 'loaded');
  extract.then(transform).then(load);
});

// 'wait' ends only when its signal is aborted.
export const waits = dag({ id: 'ui_waits' }, (t) => {
  const wait = t.task('wait', async (ctx) => {
    await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
  });
  wait.then(t.task('after', async () => 'never'));
});
`;

const setup = useEngine(
  {
    'flow.ts': DAGS,
    'broken.ts':
      "import { dag } from 'updraft';\nexport const x = dag({ id: 'broken' }, (t) => {\n  t.task('a', async () => 1)\n  ) ;\n",
  },
  { env: { UPDRAFT_HEARTBEAT_INTERVAL: '200ms' } },
);

let app: Hono;
let sessions: Partial<Record<Role, Session>> = {};
const { get, post } = uiClient(() => app);

function appOf(engine: Engine): Hono {
  const a = new Hono();
  a.use('*', authenticate(engine.database.db, authOptions(engine.config)));
  a.route('/', runPages(engine));
  a.route('/', miscPages(engine));
  return a;
}

beforeAll(async () => {
  const { h, database } = setup();
  app = appOf(h.engine);
  sessions = await uiSessions(database.db, 'ui');
});

const runUrl = (dagId: string, runId: string) => `/ui/dags/${dagId}/runs/${encodeURIComponent(runId)}`;

/** The next end of run `id` (a cleared run ends again: the harness's `finished` reports only its first end). */
function nextEnd(h: TestEngine, id: string, timeoutMs = 20_000): Promise<'success' | 'failed'> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      h.engine.bus.off('run:finished', listener);
      reject(new Error(`run ${id} did not end again within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = ({ runRowId, state }: { runRowId: string; state: 'success' | 'failed' }) => {
      if (runRowId !== id) return;
      clearTimeout(timer);
      h.engine.bus.off('run:finished', listener);
      resolve(state);
    };
    h.engine.bus.on('run:finished', listener);
  });
}

/** A run of ui_waits whose 'wait' is running. */
async function runningWait(): Promise<{ id: string; runId: string }> {
  const { h, database } = setup();
  const running = h.next('task:state', (e) => e.taskId === 'wait' && e.state === 'running');
  const run = await triggerRun(database.db, 'ui_waits', { actor: 'test' });
  await running;
  // The row says running a moment after the event.
  for (let i = 0; i < 100; i++) {
    const [ti] = await database.db
      .select({ state: taskInstances.state })
      .from(taskInstances)
      .where(and(eq(taskInstances.runId, run.id), eq(taskInstances.taskId, 'wait')));
    if (ti?.state === 'running') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { id: run.id, runId: run.runId };
}

async function audits(action: string, runId: string) {
  return setup()
    .database.db.select()
    .from(auditLog)
    .where(and(eq(auditLog.action, action), eq(auditLog.runId, runId)));
}

describe('run page', () => {
  it('shows the run, each task with its state and a Gantt bar per task, and answers its fragments alone', async () => {
    const { h } = setup();
    const run = await h.run('ui_flow', { conf: { region: 'us' } });
    expect(run.state).toBe('success');
    const page = await get(runUrl('ui_flow', run.runId));
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/^<!doctype html>/);
    expect(page.html).toContain(`Run ${run.runId}`);
    expect(page.html).toContain('<span class="state s-success">success</span>');
    expect(page.html).toContain('&quot;region&quot;: &quot;us&quot;');
    for (const task of ['extract', 'transform', 'load']) {
      expect(page.html).toMatch(
        new RegExp(
          `<tr data-task="${task}"><td><a href="/ui/dags/ui_flow/runs/[^"]+/tasks/${task}">${task}</a></td><td>[^<]+</td><td><span class="state s-success">success</span>`,
        ),
      );
      expect(page.html).toMatch(new RegExp(`<rect class="gantt-bar" data-task="${task}" data-state="success"`));
    }
    expect(page.html).toMatch(/<tr data-task="transform">.*?<td>2\/2<\/td>/);
    expect(page.html).toContain(`data-live="${runUrl('ui_flow', run.runId)}?fragment=tasks"`);
    expect(page.html).toContain(`data-live="${runUrl('ui_flow', run.runId)}?fragment=gantt"`);
    // Anonymous: no action forms.
    expect(page.html).not.toContain('Mark failed');

    const tasks = await get(`${runUrl('ui_flow', run.runId)}?fragment=tasks`);
    expect(tasks.html).toMatch(/^<table class="tasks">/);
    expect(tasks.html).not.toContain('<html');
    expect(tasks.html).toContain('data-task="load"');
    const gantt = await get(`${runUrl('ui_flow', run.runId)}?fragment=gantt`);
    expect(gantt.html).toMatch(/^<svg class="gantt"/);
    expect(gantt.html.match(/class="gantt-bar"/g)).toHaveLength(3);

    const operator = await get(runUrl('ui_flow', run.runId), sessions.operator);
    // A succeeded run can be marked failed, not success again.
    expect(operator.html).toContain('Mark failed');
    expect(operator.html).not.toContain('Mark success');
    expect(operator.html).toMatch(/<form method="post" action="[^"]+\/mark" class="inline" onsubmit="return confirm\(/);
    expect(operator.html).toContain(`name="_csrf" value="${sessions.operator!.csrf}"`);
    // An ended run cannot be cancelled.
    expect(operator.html).not.toContain('/cancel"');
  });

  it('answers unknown DAGs, runs, tasks and tries with a 404 page naming them', async () => {
    const { h } = setup();
    const run = await h.run('ui_flow');
    const cases: [string, string][] = [
      ['/ui/dags/nope/runs/x', "no DAG with id 'nope'"],
      ['/ui/dags/ui_flow/runs/nope', "DAG 'ui_flow' has no run 'nope'"],
      [`${runUrl('ui_flow', run.runId)}/tasks/nope`, "has no task 'nope'"],
      [`${runUrl('ui_flow', run.runId)}/tasks/extract?try=5`, "has no try '5'"],
      ['/ui/reports/nope', "no report 'nope'"],
    ];
    for (const [path, message] of cases) {
      const page = await get(path);
      expect(page.status, path).toBe(404);
      expect(page.html).toContain('<title>Not found · Updraft</title>');
      expect(page.html).toContain(message.replaceAll("'", '&#39;'));
    }
  });
});

describe('task instance page', () => {
  it('shows the log of each try, the XCom and the params', async () => {
    const { h } = setup();
    const run = await h.run('ui_flow', { conf: { region: 'us' } });
    const base = `${runUrl('ui_flow', run.runId)}/tasks/transform`;
    const latest = await get(base);
    expect(latest.status).toBe(200);
    expect(latest.html).toContain('<span class="state s-success">success</span>');
    expect(latest.html).toContain('2 of 2');
    expect(latest.html).toMatch(
      /<a href="[^"]+\/tasks\/transform\?try=2" class="current">Try 2<\/a><a href="[^"]+\?try=1">Try 1<\/a>/,
    );
    expect(latest.html).toMatch(
      /<pre class="log" data-try="2"><span class="log-line l-info"><time datetime="[\d\-T:.]+Z" data-precise="">\d{4}-\d\d-\d\d [\d:]+\.\d{3}Z<\/time> INFO transform try 2\n<\/span>/,
    );
    expect(latest.html).not.toContain('flaky on try 1');
    // The log stays live after the task ends (a clear adds a try), following the newest try.
    expect(latest.html).toContain(`data-live="${base}?fragment=log"`);
    expect(latest.html).toContain('<code>return_value</code>');
    expect(latest.html).toContain('<pre class="json">&quot;ok&quot;</pre>');
    expect(latest.html).toContain('<pre class="json params">{\n  &quot;region&quot;: &quot;us&quot;\n}</pre>');

    const first = await get(`${base}?try=1`);
    expect(first.html).toContain('INFO transform try 1\n');
    expect(first.html).toMatch(/ERROR [^<]*flaky on try 1/);
    expect(first.html).not.toContain('transform try 2');
    const fragment = await get(`${base}?try=1&fragment=log`);
    expect(fragment.html).toMatch(
      /^<nav class="tabs">.*<\/nav><p class="muted try-version">Try 1 ran DAG version 1\.<\/p><pre class="log" data-try="1">/,
    );
    // A try asked for stays shown: its log fragment names it.
    expect(first.html).toContain(`data-live="${base}?try=1&amp;fragment=log"`);

    // Messages are escaped; XCom is pretty JSON.
    const extract = await get(`${runUrl('ui_flow', run.runId)}/tasks/extract`);
    expect(extract.html).toContain('INFO extracting &lt;rows&gt; &amp; more');
    expect(extract.html).toContain(
      '<pre class="json">{\n  &quot;rows&quot;: 3,\n  &quot;region&quot;: &quot;us&quot;\n}</pre>',
    );
  });

  it('clears a task with its downstream through the form: they run again, and the clear is audited', async () => {
    const { h, database } = setup();
    const run = await h.run('ui_flow');
    const base = `${runUrl('ui_flow', run.runId)}/tasks/transform`;
    const page = await get(base, sessions.operator);
    expect(page.html).toMatch(
      /<form method="post" action="[^"]+\/tasks\/transform\/clear" class="clear" onsubmit="return confirm\(/,
    );
    expect(page.html).toContain('name="downstream"');

    const ended = nextEnd(h, run.id);
    const res = await post(`${base}/clear`, sessions.operator, { downstream: '1' });
    expect(res.status).toBe(303);
    expect(res.res.headers.get('location')).toBe(`${base}?cleared=2`);
    expect(await ended).toBe('success');
    const rows = await database.db
      .select({ taskId: taskInstances.taskId, tryNumber: taskInstances.tryNumber, state: taskInstances.state })
      .from(taskInstances)
      .where(eq(taskInstances.runId, run.id));
    const tries = Object.fromEntries(rows.map((r) => [r.taskId, [r.state, r.tryNumber]]));
    expect(tries).toEqual({ extract: ['success', 1], transform: ['success', 3], load: ['success', 2] });
    expect(await audits('task.clear', run.runId)).toMatchObject([
      {
        actor: 'user:ui_operator',
        dagId: 'ui_flow',
        taskId: null,
        details: {
          count: 2,
          selection: { taskIds: ['transform'], downstream: true, upstream: false, onlyFailed: false },
        },
      },
    ]);
    const after = await get(`${base}?cleared=2`, sessions.operator);
    expect(after.html).toContain('Cleared 2 task instances.');
    expect(after.html).toContain('Try 3');
  });
});

describe('actions on a running run', () => {
  it('refuses to clear a running task with the message on the page (409), then cancels the run', async () => {
    const { h } = setup();
    const { id, runId } = await runningWait();
    const base = runUrl('ui_waits', runId);
    const page = await get(base, sessions.operator);
    expect(page.html).toMatch(/<form method="post" action="[^"]+\/cancel" class="inline" onsubmit="return confirm\(/);
    expect(page.html).toContain('<span class="state s-running">running</span>');
    // A running task's bar reaches to now; its log is a live fragment.
    expect(page.html).toMatch(/<rect class="gantt-bar" data-task="wait" data-state="running"/);
    // The header (state, times, duration, buttons) is a live fragment too.
    expect(page.html).toContain(`<div class="run-head" data-live="${base}?fragment=header">`);
    const header = await get(`${base}?fragment=header`, sessions.operator);
    expect(header.html).toMatch(/^<table class="details">/);
    expect(header.html).toContain('<span class="state s-running">running</span>');
    expect(header.html).toContain('<button type="submit">Cancel</button>');
    const task = await get(`${base}/tasks/wait`, sessions.operator);
    // The log follows the newest try (no try in the fragment's URL); the state and times above it are live too.
    expect(task.html).toContain(`data-live="${base}/tasks/wait?fragment=log"`);
    expect(task.html).toContain(`data-live="${base}/tasks/wait?fragment=header"`);

    const refused = await post(`${base}/tasks/wait/clear`, sessions.operator);
    expect(refused.status).toBe(409);
    expect(refused.html).toMatch(
      /<p class="banner">cannot clear task instances that are queued or running: [^<]*wait \(running\)/,
    );
    expect(refused.html).toContain('<title>Task wait · Updraft</title>');

    // The run ends in the action's transaction; the executor then stops the try, whose result is refused.
    const stopped = h.next('task:refused', (e) => e.runRowId === id);
    const cancel = await post(`${base}/cancel`, sessions.operator);
    expect(cancel.status).toBe(303);
    expect(cancel.res.headers.get('location')).toBe(base);
    await stopped;
    const after = await get(base, sessions.operator);
    expect(after.html).toContain('<span class="state s-failed">failed</span>');
    expect(after.html).toContain(`<tr data-task="after"><td><a href="${base}/tasks/after">after</a></td>`);
    expect(after.html).toMatch(/<tr data-task="after">.*?<span class="state s-skipped">skipped<\/span>/);
    expect(after.html).not.toContain('/cancel"');
    // What the live header now answers: failed, no Cancel, only Mark success.
    const ended = await get(`${base}?fragment=header`, sessions.operator);
    expect(ended.html).toContain('<span class="state s-failed">failed</span>');
    expect(ended.html).not.toContain('Cancel</button>');
    expect(ended.html).toContain('Mark success</button>');
    expect(ended.html).not.toContain('Mark failed</button>');
    const taskHeader = await get(`${base}/tasks/wait?fragment=header`, sessions.operator);
    expect(taskHeader.html).toMatch(
      /^<table class="details"><tbody><tr><th>State<\/th><td><span class="state s-failed">failed<\/span>/,
    );
    expect(await audits('run.cancel', runId)).toMatchObject([{ actor: 'user:ui_operator', dagId: 'ui_waits' }]);

    // Cancelling again is refused on the page.
    const again = await post(`${base}/cancel`, sessions.operator);
    expect(again.status).toBe(409);
    expect(again.html).toMatch(
      /<p class="banner">run &#39;[^&]+&#39; of DAG &#39;ui_waits&#39; has already ended \(failed\)/,
    );
  });

  it('marks a running run failed through the form', async () => {
    const { h, database } = setup();
    const { id, runId } = await runningWait();
    const stopped = h.next('task:refused', (e) => e.runRowId === id);
    const res = await post(`${runUrl('ui_waits', runId)}/mark`, sessions.operator, { state: 'failed' });
    expect(res.status).toBe(303);
    await stopped;
    const [row] = await database.db.select({ state: dagRuns.state }).from(dagRuns).where(eq(dagRuns.id, id));
    expect(row!.state).toBe('failed');
    expect(await audits('run.mark_failed', runId)).toMatchObject([{ actor: 'user:ui_operator', dagId: 'ui_waits' }]);
    const bad = await post(`${runUrl('ui_waits', runId)}/mark`, sessions.operator, { state: 'running' });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('mark: state must be &#39;success&#39; or &#39;failed&#39;');
  });
});

describe('who may act', () => {
  it('sends an anonymous POST to the login page, answers a viewer with 403 and a missing CSRF token with 403', async () => {
    const { h } = setup();
    const run = await h.run('ui_flow');
    const base = runUrl('ui_flow', run.runId);
    const anonymous = await post(`${base}/mark`, undefined, { state: 'failed' });
    expect(anonymous.status).toBe(303);
    expect(anonymous.res.headers.get('location')).toBe(`/ui/login?next=${encodeURIComponent(base)}`);
    const anonymousClear = await post(`${base}/tasks/load/clear`, undefined);
    expect(anonymousClear.res.headers.get('location')).toBe(
      `/ui/login?next=${encodeURIComponent(`${base}/tasks/load`)}`,
    );

    const viewer = await post(`${base}/mark`, sessions.viewer, { state: 'failed' });
    expect(viewer.status).toBe(403);
    expect(viewer.html).toContain('This needs the operator role; &#39;ui_viewer&#39; has the viewer role.');
    expect(viewer.html).toContain('<title>Not allowed · Updraft</title>');
    // A viewer sees no action forms.
    const seen = await get(base, sessions.viewer);
    expect(seen.html).toContain('Log out');
    expect(seen.html).not.toContain('Mark failed');
    expect((await get(`${base}/tasks/load`, sessions.viewer)).html).not.toContain('/clear"');

    const noCsrf = await post(`${base}/mark`, sessions.operator, { state: 'failed' }, false);
    expect(noCsrf.status).toBe(403);
    expect(await audits('run.mark_failed', run.runId)).toEqual([]);
  });

  it('sends anonymous readers to log in when reading is closed', async () => {
    const { h } = setup();
    const closed = appOf({ ...h.engine, config: { ...h.engine.config, authRead: 'closed' } } as Engine);
    for (const path of ['/ui/audit?page=2', '/ui/reports', '/ui/import-errors', '/ui/dags/ui_flow/runs/x']) {
      const res = await closed.request(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get('location')).toBe(`/ui/login?next=${encodeURIComponent(path)}`);
    }
    const signedIn = await closed.request('/ui/audit', {
      headers: { cookie: `updraft_session=${sessions.viewer!.cookie}` },
    });
    expect(signedIn.status).toBe(200);
  });
});

describe('import errors, audit log and reports', () => {
  it('lists a DAG file that does not import', async () => {
    const page = await get('/ui/import-errors');
    expect(page.status).toBe(200);
    expect(page.html).toMatch(
      /<td><code>broken\.ts<\/code><\/td><td>(\d+:\d+|–)<\/td><td><pre class="error">[^<]+<\/pre>/,
    );
  });

  it('lists the audit log newest first, filtered by action and DAG, a page at a time', async () => {
    const { database } = setup();
    await database.db.insert(auditLog).values(
      Array.from({ length: 55 }, (_, i) => ({
        actor: 'test',
        action: 'ui.test',
        dagId: 'ui_flow',
        at: new Date(Date.UTC(2020, 0, 1, 0, i)),
        details: { n: i },
      })),
    );
    const first = await get('/ui/audit?action=ui.test');
    expect(first.status).toBe(200);
    expect(first.html.match(/<td>test<\/td>/g)).toHaveLength(50);
    expect(first.html.indexOf('{&quot;n&quot;:54}')).toBeLessThan(first.html.indexOf('{&quot;n&quot;:53}'));
    expect(first.html).toContain('<a href="/ui/audit?action=ui.test&amp;page=2">Older →</a>');
    const second = await get('/ui/audit?action=ui.test&page=2');
    expect(second.html.match(/<td>test<\/td>/g)).toHaveLength(5);
    expect(second.html).toContain('{&quot;n&quot;:0}');
    expect((await get('/ui/audit?action=ui.test&dag=other')).html).toContain('No entries match.');
    // The actions of the tests above are there too.
    const all = await get('/ui/audit');
    expect(all.html).toMatch(
      /<td>user:ui_operator<\/td><td><a href="\/ui\/audit\?action=(task\.clear|run\.cancel|run\.mark_failed)">/,
    );
  });

  it('lists reports, shows an HTML one in a sandboxed iframe and downloads it as a file', async () => {
    const { h, database } = setup();
    const run = await h.run('ui_flow');
    const [ti] = await database.db
      .select({ id: taskInstances.id })
      .from(taskInstances)
      .where(and(eq(taskInstances.runId, run.id), eq(taskInstances.taskId, 'load')));
    const html = '<h1 onclick="alert(1)">Sales & "more"</h1><script>alert(2)</script>';
    const [report] = await database.db
      .insert(reports)
      .values([
        {
          taskInstanceId: ti!.id,
          dagId: 'ui_flow',
          runId: run.runId,
          taskId: 'load',
          tryNumber: 1,
          format: 'html',
          title: 'Daily <sales>',
          content: html,
          rows: 7,
        },
        {
          taskInstanceId: ti!.id,
          dagId: 'ui_flow',
          runId: run.runId,
          taskId: 'load',
          tryNumber: 2,
          format: 'csv',
          title: 'Daily csv',
          content: 'a,b\n1,<2>\n',
          rows: 1,
        },
      ])
      .returning({ id: reports.id });

    const list = await get('/ui/reports?dag=ui_flow');
    expect(list.status).toBe(200);
    expect(list.html).toContain(`<a href="/ui/reports/${report!.id}">Daily &lt;sales&gt;</a>`);
    expect(list.html).toMatch(/<td>html<\/td><td>7<\/td><td>\d+ B<\/td>/);
    expect(list.html).toContain('Daily csv');
    expect((await get('/ui/reports?dag=nope')).status).toBe(404);

    const page = await get(`/ui/reports/${report!.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(
      '<iframe class="report" sandbox="" srcdoc="&lt;h1 onclick=&quot;alert(1)&quot;&gt;Sales &amp; &quot;more&quot;&lt;/h1&gt;&lt;script&gt;alert(2)&lt;/script&gt;"',
    );
    expect(page.html).not.toContain('<script>alert(2)');
    expect(page.html).not.toContain('<h1 onclick');

    const download = await get(`/ui/reports/${report!.id}/download`);
    expect(download.status).toBe(200);
    expect(download.html).toBe(html);
    expect(download.res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(download.res.headers.get('content-disposition')).toBe(
      `attachment; filename="ui_flow_${run.runId.replace(/[^A-Za-z0-9._-]+/g, '-')}_load_try1.html"`,
    );

    const csvRows = await get('/ui/reports');
    const csvId = /<a href="\/ui\/reports\/([0-9a-f-]+)">Daily csv<\/a>/.exec(csvRows.html)![1]!;
    const csv = await get(`/ui/reports/${csvId}`);
    expect(csv.html).toContain('<pre class="report">a,b\n1,&lt;2&gt;\n</pre>');
    const csvDownload = await get(`/ui/reports/${csvId}/download`);
    expect(csvDownload.res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csvDownload.res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="ui_flow_[A-Za-z0-9._-]+_load_try2\.csv"$/,
    );
  });
});
