/**
 * The web UI in a real browser (Debian's Chromium through playwright-core), against a
 * real server and engine on the embedded database: log in, open the DAG list, trigger a
 * run, watch the grid change live (no reload), open the failed task's log, clear it and
 * see it succeed; choose the timezone times are shown in; watch a run fail after its
 * retries on four pages at once. Every page visited is kept as a screenshot in
 * test-artifacts/browser/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/auth/index.js';
import { formatElapsed } from '../../src/util/duration.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { ROOT } from '../support/cli.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';
import { startEngine, type TestEngine } from '../support/engine.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'browser');
const PASSWORD = 'browser-test-password';

let scratch: string;
let release: string;
let releaseFail: string;
let folder: DagFolder;
let h: TestEngine;
let server: WebServer;
let browser: Browser;
let page: Page;

// 'extract' waits for the test to release it, so that the page is open while the run is
// under way; 'load' fails on its first try and succeeds once cleared.
const demo = (releaseFile: string) => `import { existsSync } from 'node:fs';
import { dag } from 'updraft';

export default dag({ id: 'browser_demo', schedule: null, tags: ['demo'], owner: 'qa' }, (t) => {
  const extract = t.task('extract', async (ctx) => {
    while (!existsSync(${JSON.stringify(releaseFile)})) {
      ctx.signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { rows: 3 };
  });
  const load = t.task('load', async (ctx) => {
    if (ctx.tryNumber === 1) throw new Error('the warehouse is read-only today');
    return 'loaded';
  });
  extract.then(load);
});
`;

// A scheduled DAG to backfill from the page (paused, as new DAGs are: a backfill runs it all the same).
const DAILY = `import { dag } from 'updraft';
export default dag({ id: 'browser_daily', schedule: '@daily', startDate: '2026-01-01' }, (t) => {
  t.task('extract', async () => 1).then(t.task('load', async () => 2));
});
`;

// In Europe/Berlin (times shown there when the DAG's timezone is chosen), first due in 2030; its one task
// waits for the test, then fails each of its 3 tries, 1 s apart.
const failing = (releaseFile: string) => `import { existsSync } from 'node:fs';
import { dag } from 'updraft';

export default dag({ id: 'browser_fail', schedule: '@daily', startDate: '2030-06-01', timezone: 'Europe/Berlin', defaults: { retries: 2, retryDelay: '1s' } }, (t) => {
  t.task('flaky', async (ctx) => {
    while (!existsSync(${JSON.stringify(releaseFile)})) {
      ctx.signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('broken on try ' + ctx.tryNumber);
  });
});
`;

/** A time as time.js shows it in Europe/Berlin: with its offset, +01:00 in winter, +02:00 in summer. */
const BERLIN_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0[12]:00$/;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  const executablePath = process.env.CHROMIUM_PATH;
  if (!executablePath)
    throw new Error('CHROMIUM_PATH is not set: install Chromium (apt-get install chromium) to run the browser tests');
  await mkdir(ARTIFACTS, { recursive: true });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'updraft-browser-'));
  release = path.join(scratch, 'release');
  releaseFail = path.join(scratch, 'release-fail');
  const database = await testDatabase();
  folder = await makeDagFolder({
    'browser_demo.ts': demo(release),
    'browser_daily.ts': DAILY,
    'browser_fail.ts': failing(releaseFail),
  });
  h = await startEngine(database, folder.path);
  server = await startWebServer(h.engine, '127.0.0.1', 0);
  await createUser(database.db, { username: 'ops', role: 'operator', password: PASSWORD, actor: 'test' });
  browser = await chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  // One context: the pages opened side by side share the session.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Every action asks for a confirmation: say yes.
  context.on('dialog', (dialog) => void dialog.accept());
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await h?.stop();
  await folder?.cleanup();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the web UI in Chromium', () => {
  it('logs in and lists the DAGs', async () => {
    await page.goto(`${server.url}/ui/login`);
    await shot('01-login');
    await page.locator('input[name=username]').fill('ops');
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.locator('form.login button[type=submit]').click();
    await page.waitForURL(`${server.url}/`);
    await page.locator('a', { hasText: 'browser_demo' }).first().waitFor();
    expect(await page.locator('header').textContent()).toContain('ops (operator)');
    await shot('02-dag-list');
  });

  it('triggers a run and watches the grid change live, without a reload', async () => {
    await page.goto(`${server.url}/ui/dags/browser_demo`);
    await page.locator('summary', { hasText: 'Trigger a run' }).click();
    await shot('03-dag-trigger-form');
    await page.locator('form.trigger button[type=submit]').click();
    await page.waitForURL(/\/ui\/dags\/browser_demo\/runs\/manual__/);
    await shot('04-run-page-running');

    await page.goto(`${server.url}/ui/dags/browser_demo`);
    await page.locator('a.sq[data-state=running]').first().waitFor();
    // A marker on this page's window: it is gone if the page reloads.
    await page.evaluate('window.__stayed = true');
    await writeFile(release, 'go');
    // The grid's live fragment shows extract succeeding and load failing.
    await page.locator('a.sq[data-state=failed]').first().waitFor({ timeout: 15_000 });
    await page.locator('a.sq[data-state=success]').first().waitFor();
    expect(await page.evaluate('window.__stayed === true')).toBe(true);
    await shot('05-dag-grid-live');
  });

  it("opens the failed task's log, clears it, and sees it succeed", async () => {
    await page.locator('a.sq[data-state=failed]').first().click();
    await page.waitForURL(/\/tasks\/load/);
    await page.locator('main', { hasText: 'the warehouse is read-only today' }).waitFor();
    await shot('06-task-failed-log');

    await page.locator('form.clear button[type=submit]').click();
    await page.waitForURL(/cleared=/);
    await page
      .locator('main a', { hasText: /^manual__/ })
      .first()
      .click();
    // The run page's task table is live: load turns success on its own.
    const loadRow = page.locator('table.tasks tr', { hasText: 'load' });
    await loadRow.locator('.s-success').waitFor({ timeout: 15_000 });
    await shot('07-run-page-after-clear');
    await page.locator('table.tasks a', { hasText: 'load' }).click();
    await page.locator('main', { hasText: 'loaded' }).waitFor();
    await shot('08-task-succeeded');
  });

  it('creates a backfill from the DAG page and watches it complete live', async () => {
    await page.goto(`${server.url}/ui/dags/browser_daily?view=backfills`);
    await page.locator('summary', { hasText: 'Create a backfill' }).click();
    await page.locator('form.backfill input[name=from]').fill('2026-01-01');
    await page.locator('form.backfill input[name=to]').fill('2026-01-07');
    await page.locator('form.backfill input[name=max_active_runs]').fill('2');
    await shot('15-backfill-form');
    await page.locator('form.backfill button[type=submit]').click();
    await page.waitForURL(/\/ui\/backfills\/\d+$/);
    await page.evaluate('window.__stayed = true');
    // The summary is live: the backfill completes without a reload.
    await page.locator('.bf-state .s-completed').waitFor({ timeout: 20_000 });
    expect(await page.locator('.bf-done').textContent()).toBe('7/7');
    expect(await page.evaluate('window.__stayed === true')).toBe(true);
    await shot('16-backfill-completed');
    const response = await page.goto(`${server.url}/ui/backfills`);
    expect(response?.status()).toBe(200);
    await page.locator('main', { hasText: 'browser_daily' }).waitFor();
    await shot('17-backfills');
  });

  it('shows the other pages: graph, source, runs, audit log, import errors, reports', async () => {
    for (const [name, target, text] of [
      ['09-dag-graph', '/ui/dags/browser_demo?view=graph', 'extract'],
      ['10-dag-source', '/ui/dags/browser_demo?view=source', 'the warehouse is read-only today'],
      ['11-dag-runs', '/ui/dags/browser_demo?view=runs', 'manual__'],
      ['12-audit-log', '/ui/audit', 'task.clear'],
      ['13-import-errors', '/ui/import-errors', 'Import errors'],
      ['14-reports', '/ui/reports', 'Reports'],
    ] as const) {
      const response = await page.goto(`${server.url}${target}`);
      expect(response?.status(), target).toBe(200);
      await page.locator('main', { hasText: text }).waitFor();
      await shot(name);
    }
  });

  it("shows times in the DAG's timezone once chosen in the header, and remembers the choice", async () => {
    await page.goto(`${server.url}/ui/dags/browser_fail`);
    const nextRun = page.locator('dl.dag-details time');
    expect(await nextRun.textContent()).toMatch(/Z$/);
    await page.locator('#tz-select').selectOption('dag');
    await page.locator('dl.dag-details time', { hasText: BERLIN_TIME }).waitFor();
    expect(await nextRun.getAttribute('title')).toBe('Europe/Berlin');
    await shot('18-timezone-berlin');
    await page.reload();
    expect(await page.locator('#tz-select').inputValue()).toBe('dag');
    await page.locator('dl.dag-details time', { hasText: BERLIN_TIME }).waitFor();
    // The DAG list shows each DAG's times in its own timezone.
    await page.goto(`${server.url}/`);
    await page.locator('tr[data-dag=browser_fail] time', { hasText: BERLIN_TIME }).waitFor();
    await page.locator('tr[data-dag=browser_daily] time', { hasText: /Z$/ }).waitFor();
  });

  it('keeps every part of four pages true while a run fails after its retries, without a reload', async () => {
    await page.goto(`${server.url}/ui/dags/browser_fail`);
    await page.locator('summary', { hasText: 'Trigger a run' }).click();
    await page.locator('form.trigger button[type=submit]').click();
    await page.waitForURL(/\/ui\/dags\/browser_fail\/runs\/manual__/);
    const runPage = page;
    await runPage.locator('.run-head .state.s-running').waitFor({ timeout: 15_000 });
    await runPage.locator('.run-head button', { hasText: 'Cancel' }).waitFor();
    const taskPage = await page.context().newPage();
    await taskPage.goto(`${runPage.url()}/tasks/flaky`);
    await taskPage.locator('.task-head .state.s-running').waitFor({ timeout: 15_000 });
    const gridPage = await page.context().newPage();
    await gridPage.goto(`${server.url}/ui/dags/browser_fail`);
    const listPage = await page.context().newPage();
    await listPage.goto(`${server.url}/`);
    const pages = [runPage, taskPage, gridPage, listPage];
    for (const p of pages) {
      await p.locator('#live-status[data-state=live]').waitFor();
      await p.evaluate('window.__stayed = true');
    }
    await gridPage.locator('a.sq[data-state=running]').waitFor();
    await listPage.locator('tr[data-dag=browser_fail] td.recent a.sq.s-running').waitFor();

    await writeFile(releaseFail, 'go');

    // The run page: the header's state, times and duration, and the buttons of a failed run.
    await runPage.bringToFront();
    await runPage.locator('.run-head .state.s-failed').waitFor({ timeout: 30_000 });
    await runPage.locator('.run-head button', { hasText: 'Cancel' }).waitFor({ state: 'detached' });
    await runPage.locator('.run-head button', { hasText: 'Mark success' }).waitFor();
    expect(await runPage.locator('.run-head button', { hasText: 'Mark failed' }).count()).toBe(0);
    const header = runPage.locator('.run-head table.details');
    const started = await header.locator('tr', { hasText: 'Started' }).locator('time').getAttribute('datetime');
    const ended = header.locator('tr', { hasText: 'Ended' }).locator('time');
    // Fragments that arrive live are shown in the chosen timezone too.
    await header.locator('tr', { hasText: 'Ended' }).locator('time', { hasText: BERLIN_TIME }).waitFor();
    const took = new Date((await ended.getAttribute('datetime'))!).getTime() - new Date(started!).getTime();
    expect(await header.locator('td.duration').textContent()).toBe(formatElapsed(took));
    expect(took).toBeGreaterThanOrEqual(2000);
    await runPage.locator('table.tasks tr[data-task=flaky] .state.s-failed').waitFor();
    await shot('19-run-failed-live');

    // The task instance page: its state badge, tries and the newest try's log.
    await taskPage.bringToFront();
    await taskPage.locator('.task-head .state.s-failed').waitFor();
    await taskPage.locator('.task-head td', { hasText: '3 of 3' }).waitFor();
    await taskPage.locator('pre.log', { hasText: 'broken on try 3' }).waitFor();
    await taskPage.locator('nav.tabs a.current', { hasText: 'Try 3' }).waitFor();
    await taskPage.screenshot({ path: path.join(ARTIFACTS, '20-task-failed-live.png'), fullPage: true });

    // The grid: the run's column and the task's cell.
    await gridPage.bringToFront();
    await gridPage.locator('a.sq.run.s-failed').waitFor();
    await gridPage.locator('a.sq[data-state=failed]').waitFor();
    expect(await gridPage.locator('a.sq[data-state=running]').count()).toBe(0);

    // The DAG list's last runs.
    await listPage.bringToFront();
    await listPage.locator('tr[data-dag=browser_fail] td.recent a.sq.s-failed').waitFor();
    expect(await listPage.locator('tr[data-dag=browser_fail] td.recent a.sq.s-running').count()).toBe(0);

    for (const p of pages) expect(await p.evaluate('window.__stayed === true')).toBe(true);
    await Promise.all([taskPage.close(), gridPage.close(), listPage.close()]);
  });
});
