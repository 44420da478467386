/**
 * Mapped task instances as people see them: the REST API lists one entry per instance with
 * its map_index and serves one by GET .../taskInstances/{task_id}/{map_index} (with its
 * XCom and log), and the UI's run page shows a mapped task as one row with its instance
 * count, a per-state summary and links to each instance's page.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { apiRoutes } from '../../src/web/api/index.js';
import { runPages } from '../../src/web/ui/pages/runs.js';
import { useEngine } from '../support/engine.js';
import { uiClient, uiSessions } from '../support/ui.js';

const DAGS = `import { dag } from 'updraft';

export default dag({ id: 'mapped_view' }, (t) => {
  const list = t.task('list', async () => ['a.csv', 'b.csv', 'c.csv']);
  const load = t.map('load', { over: list }, async (ctx, file: string) => {
    ctx.log.info('loading %s', file);
    if (file === 'b.csv') throw new Error('b.csv is corrupt');
    return file.toUpperCase();
  });
  list.then(load);
});
`;

const setup = useEngine({ 'mapped_view.ts': DAGS });
const pass: MiddlewareHandler = async (_c, next) => next();
let api: Hono;
let ui: Hono;
let runId: string;
const { get: page } = uiClient(() => ui);

async function get(path: string) {
  const res = await api.request(`/api/v1${path}`);
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  const { h, database } = setup();
  api = apiRoutes(database.db, {
    read: pass,
    operate: pass,
    actor: () => 'web:test',
    checkResponses: true,
    onError: (e) => {
      throw e;
    },
  });
  ui = new Hono();
  ui.use('*', authenticate(database.db, authOptions(h.engine.config)));
  ui.route('/', runPages(h.engine));
  await uiSessions(database.db, 'mapview');
  const run = await h.run('mapped_view');
  expect(run.state).toBe('failed');
  runId = run.runId;
});

describe('mapped task instances in the API', () => {
  it('lists one entry per instance with its map_index, and filters by map_index', async () => {
    const base = `/dags/mapped_view/dagRuns/${encodeURIComponent(runId)}/taskInstances`;
    const all = await get(base);
    expect(all.status).toBe(200);
    expect(all.body.task_instances.map((ti: any) => `${ti.task_id} ${ti.map_index} ${ti.state}`)).toEqual([
      'list -1 success',
      'load 0 success',
      'load 1 failed',
      'load 2 success',
    ]);
    const one = await get(`${base}?map_index=2`);
    expect(one.body.task_instances.map((ti: any) => ti.task_id)).toEqual(['load']);

    const second = await get(`${base}/load/1`);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      task_id: 'load',
      map_index: 1,
      state: 'failed',
      error: expect.stringContaining('b.csv is corrupt'),
    });
    const unmapped = await get(`${base}/load`);
    expect(unmapped.status).toBe(404);
    expect(JSON.stringify(unmapped.body)).toContain("task 'load' of run");
    expect((await get(`${base}/load/7`)).status).toBe(404);

    const xcom = await get(`${base}/load/xcomEntries/return_value?map_index=2`);
    expect(xcom.body).toMatchObject({ map_index: 2, value: 'C.CSV' });
    const entries = await get(`${base}/load/xcomEntries`);
    expect(entries.body.xcom_entries.map((e: any) => e.map_index)).toEqual([0, 2]);
    const log = await get(`${base}/load/logs/1?map_index=0`);
    expect(log.body.content).toContain('loading a.csv');
  });
});

describe('mapped task instances in the UI', () => {
  it('shows a mapped task as one row with its count, a state summary and links to its instances', async () => {
    const url = `/ui/dags/mapped_view/runs/${encodeURIComponent(runId)}`;
    const run = await page(`${url}?fragment=tasks`);
    expect(run.status).toBe(200);
    expect(run.html).toContain('3 instances: 2 success, 1 failed');
    expect(run.html).toMatch(/load \[1\]/);
    expect(run.html).toContain(`${url}/tasks/load?map_index=1`);
    const instance = await page(`${url}/tasks/load?map_index=1`);
    expect(instance.status).toBe(200);
    expect(instance.html).toContain('load [1]');
    expect(instance.html).toContain('b.csv is corrupt');
    expect((await page(`${url}/tasks/load?map_index=9`)).status).toBe(404);
  });
});
