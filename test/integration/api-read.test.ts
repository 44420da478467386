/**
 * The REST API's read side on runs that really happened (the engine ran them): lists with
 * pagination and total_entries, filters by state and date, one item, logs per try and
 * XCom, and the problem body for unknown ids (404) and bad input (400 naming the field).
 * Every answer is checked against its documented schema (checkResponses).
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/web/api/index.js';
import { useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';

export const etl = dag({
  id: 'api_etl',
  schedule: '@daily',
  startDate: '2099-01-01',
  tags: ['etl', 'daily'],
  owner: 'data',
  description: 'Loads the day',
  params: { region: { type: 'string', enum: ['eu', 'us'], default: 'eu' } },
}, (t) => {
  const extract = t.task('extract', async (ctx) => {
    ctx.log.info('extracting ' + ctx.params.region);
    return { rows: 3 };
  });
  const flaky = t.task('flaky', { retries: 1, retryDelay: '10ms' }, async (ctx) => {
    ctx.log.info('try ' + ctx.tryNumber);
    if (ctx.tryNumber === 1) throw new Error('first try fails');
  });
  const load = t.task('load', async () => undefined);
  extract.then(flaky).then(load);
});

export const failing = dag({ id: 'api_failing', tags: ['ops'] }, (t) => {
  t.task('boom', async () => { throw new Error('boom'); });
});
`;

const BROKEN = `import { dag } from 'updraft';
export default dag({ id: 'api_broken', schedule: 'every day', startDate: '2030-01-01' }, (t) => { t.task('a', async () => 1); });
`;

const setup = useEngine({ 'api.ts': DAGS, 'broken.ts': BROKEN });
const pass: MiddlewareHandler = async (_c, next) => next();
let app: Hono;
const runIds: Record<string, string> = {};

interface Answer {
  status: number;
  type: string | null;
  // Bodies are whatever JSON the API sent; the tests look into them.
  body: any;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await app.request(`/api/v1${path}`, { headers });
  const type = res.headers.get('content-type');
  return { status: res.status, type, body: type?.includes('json') ? await res.json() : await res.text() };
}

const enc = encodeURIComponent;

beforeAll(async () => {
  const { database, h } = setup();
  app = apiRoutes(database.db, {
    read: pass,
    operate: pass,
    actor: () => 'web:test',
    checkResponses: true,
    onError: (e) => {
      throw e;
    },
  });
  for (const [day, conf] of [
    ['01', { region: 'us' }],
    ['02', {}],
    ['03', {}],
  ] as const) {
    const run = await h.run('api_etl', { logicalDate: new Date(`2030-01-${day}T00:00:00Z`), conf });
    expect(run.state).toBe('success');
    runIds[day] = run.runId;
  }
  expect((await h.run('api_failing', { logicalDate: new Date('2030-01-05T00:00:00Z') })).state).toBe('failed');
});

describe('GET /dags', () => {
  it('lists the parsed DAGs by id with their schedule, tags and next run', async () => {
    const { status, body } = await get('/dags');
    expect(status).toBe(200);
    expect(body.total_entries).toBe(2);
    expect(body.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(['api_etl', 'api_failing']);
    expect(body.dags[0]).toMatchObject({
      dag_id: 'api_etl',
      description: 'Loads the day',
      fileloc: 'api.ts',
      is_paused: false,
      is_active: true,
      owners: ['data'],
      tags: [{ name: 'etl' }, { name: 'daily' }],
      schedule: '@daily',
      timezone: 'UTC',
      dag_version: 1,
      next_dagrun: '2099-01-01T00:00:00.000Z',
      next_dagrun_data_interval_start: '2099-01-01T00:00:00.000Z',
      next_dagrun_data_interval_end: '2099-01-02T00:00:00.000Z',
      next_dagrun_create_after: '2099-01-02T00:00:00.000Z',
    });
    expect(body.dags[1]).toMatchObject({ dag_id: 'api_failing', schedule: null, next_dagrun: null });
  });

  it('pages with limit and offset, total_entries counting every match', async () => {
    expect((await get('/dags?limit=1')).body).toMatchObject({ dags: [{ dag_id: 'api_etl' }], total_entries: 2 });
    expect((await get('/dags?limit=1&offset=1')).body).toMatchObject({
      dags: [{ dag_id: 'api_failing' }],
      total_entries: 2,
    });
    expect((await get('/dags?offset=5')).body).toEqual({ dags: [], total_entries: 2 });
    expect((await get('/dags?order_by=-dag_id&limit=1')).body.dags[0].dag_id).toBe('api_failing');
  });

  it('filters by tags, id pattern and paused', async () => {
    const ids = async (query: string) =>
      (await get(`/dags?${query}`)).body.dags.map((d: { dag_id: string }) => d.dag_id);
    expect(await ids('tags=ops')).toEqual(['api_failing']);
    expect(await ids('tags=ops&tags=daily')).toEqual(['api_etl', 'api_failing']);
    expect(await ids('tags=ops,etl')).toEqual(['api_etl', 'api_failing']);
    expect(await ids('dag_id_pattern=FAIL')).toEqual(['api_failing']);
    // '_' is a literal underscore, not LIKE's any-character.
    expect(await ids('dag_id_pattern=i_e')).toEqual(['api_etl']);
    expect(await ids('dag_id_pattern=i%25e')).toEqual([]);
    expect(await ids('paused=true')).toEqual([]);
    expect(await ids('paused=false')).toEqual(['api_etl', 'api_failing']);
  });

  it('shows one DAG with its params, and a 404 problem for an unknown id', async () => {
    const { status, body } = await get('/dags/api_etl');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      dag_id: 'api_etl',
      start_date: '2099-01-01T00:00:00.000Z',
      end_date: null,
      catchup: false,
      params: { region: { type: 'string', enum: ['eu', 'us'], default: 'eu' } },
    });
    const missing = await get('/dags/nope');
    expect(missing.status).toBe(404);
    expect(missing.type).toBe('application/problem+json');
    expect(missing.body).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: "no DAG with id 'nope'",
    });
  });
});

describe('GET /dags/{dag_id}/dagRuns', () => {
  it("lists a DAG's runs newest first, paged, with their intervals and conf", async () => {
    const { body } = await get('/dags/api_etl/dagRuns');
    expect(body.total_entries).toBe(3);
    expect(body.dag_runs.map((r: { logical_date: string }) => r.logical_date)).toEqual([
      '2030-01-03T00:00:00.000Z',
      '2030-01-02T00:00:00.000Z',
      '2030-01-01T00:00:00.000Z',
    ]);
    expect(body.dag_runs[2]).toMatchObject({
      dag_id: 'api_etl',
      dag_run_id: runIds['01'],
      run_type: 'manual',
      state: 'success',
      external_trigger: true,
      conf: { region: 'us' },
      data_interval_start: '2029-12-31T00:00:00.000Z',
      data_interval_end: '2030-01-01T00:00:00.000Z',
      dag_version: 1,
    });
    expect(body.dag_runs[2].start_date).toMatch(/Z$/);
    const page = (await get('/dags/api_etl/dagRuns?limit=2&offset=2')).body;
    expect(page.total_entries).toBe(3);
    expect(page.dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id)).toEqual([runIds['01']]);
    const ascending = (await get('/dags/api_etl/dagRuns?order_by=logical_date&limit=1')).body;
    expect(ascending.dag_runs[0].dag_run_id).toBe(runIds['01']);
  });

  it('filters by state and by logical date', async () => {
    const count = async (query: string) => (await get(`/dags/api_etl/dagRuns?${query}`)).body.total_entries;
    expect(await count('state=success')).toBe(3);
    expect(await count('state=failed')).toBe(0);
    expect(await count('state=failed,success')).toBe(3);
    expect(await count('execution_date_gte=2030-01-02')).toBe(2);
    expect(await count('execution_date_lte=2030-01-02T00:00:00Z')).toBe(2);
    expect(await count('execution_date_gte=2030-01-02&execution_date_lte=2030-01-02')).toBe(1);
    // An unencoded '+' arrives as a space; the offset is still read.
    expect(await count('execution_date_gte=2030-01-02T01:00:00+01:00')).toBe(2);
    expect(await count(`execution_date_gte=${enc('2030-01-02T01:00:00+01:00')}`)).toBe(2);
    expect(await count('start_date_gte=2999-01-01')).toBe(0);
    expect(await count('end_date_lte=2000-01-01')).toBe(0);
  });

  it("lists every DAG's runs with '~'", async () => {
    const all = (await get('/dags/~/dagRuns')).body;
    expect(all.total_entries).toBe(4);
    expect(
      all.dag_runs.map((r: { dag_id: string; logical_date: string }) => `${r.dag_id} ${r.logical_date.slice(0, 10)}`),
    ).toEqual(['api_failing 2030-01-05', 'api_etl 2030-01-03', 'api_etl 2030-01-02', 'api_etl 2030-01-01']);
    expect(all.dag_runs[3]).toEqual((await get(`/dags/api_etl/dagRuns/${enc(runIds['01']!)}`)).body);
    const page = (await get('/dags/~/dagRuns?order_by=logical_date&limit=2&offset=1')).body;
    expect(page).toMatchObject({
      total_entries: 4,
      dag_runs: [{ dag_run_id: runIds['02'] }, { dag_run_id: runIds['03'] }],
    });
    expect((await get('/dags/~/dagRuns?order_by=-start_date&limit=1')).body).toMatchObject({
      total_entries: 4,
      dag_runs: [{ dag_id: 'api_failing' }],
    });
    const failed = (await get('/dags/~/dagRuns?state=failed')).body;
    expect(failed).toMatchObject({ total_entries: 1, dag_runs: [{ dag_id: 'api_failing', state: 'failed' }] });
  });

  it('shows one run; unknown DAGs and runs are 404 problems naming them', async () => {
    const { status, body } = await get(`/dags/api_etl/dagRuns/${enc(runIds['02']!)}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ dag_run_id: runIds['02'], logical_date: '2030-01-02T00:00:00.000Z', conf: {} });
    expect(await get('/dags/nope/dagRuns')).toMatchObject({ status: 404, body: { detail: "no DAG with id 'nope'" } });
    expect(await get('/dags/api_etl/dagRuns/manual__nope')).toMatchObject({
      status: 404,
      body: { detail: "DAG 'api_etl' has no run 'manual__nope'" },
    });
  });

  it('answers bad query parameters with a 400 problem naming the parameter', async () => {
    const cases: [string, string, RegExp][] = [
      ['limit=0', 'limit', /^limit: must be an integer from 1 to 1000$/],
      ['limit=1001', 'limit', /1 to 1000/],
      ['limit=ten', 'limit', /integer/],
      ['limit=1&limit=2', 'limit', /integer/],
      ['offset=-1', 'offset', /^offset: must be an integer from 0 to 2147483647$/],
      ['state=done', 'state', /^state: must be one of queued, running, success, failed$/],
      ['state=success,done', 'state', /must be one of/],
      ['execution_date_gte=yesterday', 'execution_date_gte', /ISO 8601/],
      ['execution_date_lte=2030-13-01', 'execution_date_lte', /ISO 8601/],
      ['order_by=dag_id', 'order_by', /logical_date/],
      ['stat=failed', 'stat', /^stat: unknown query parameter \(expected limit, offset, state, /],
    ];
    for (const [query, field, detail] of cases) {
      const { status, type, body } = await get(`/dags/api_etl/dagRuns?${query}`);
      expect({ query, status, type, field: body.field }).toEqual({
        query,
        status: 400,
        type: 'application/problem+json',
        field,
      });
      expect(body.detail).toMatch(detail);
    }
  });
});

describe('GET .../taskInstances', () => {
  const tis = (run: string, rest = '') => `/dags/api_etl/dagRuns/${enc(runIds[run]!)}/taskInstances${rest}`;

  it("lists a run's task instances by task id, filtered by state", async () => {
    const { body } = await get(tis('01'));
    expect(body.total_entries).toBe(3);
    expect(body.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(['extract', 'flaky', 'load']);
    expect(body.task_instances[1]).toMatchObject({
      dag_id: 'api_etl',
      dag_run_id: runIds['01'],
      task_id: 'flaky',
      map_index: -1,
      logical_date: '2030-01-01T00:00:00.000Z',
      state: 'success',
      try_number: 2,
      max_tries: 2,
      operator: 'task',
      pool: 'default_pool',
      error: null,
    });
    expect(body.task_instances[1].duration).toBeGreaterThanOrEqual(0);
    expect((await get(tis('01', '?state=success&limit=1&offset=2'))).body).toMatchObject({
      total_entries: 3,
      task_instances: [{ task_id: 'load' }],
    });
    expect((await get(tis('01', '?state=none'))).body).toEqual({ task_instances: [], total_entries: 0 });
    expect((await get(tis('01', '?state=sucess'))).body).toMatchObject({ status: 400, field: 'state' });
  });

  it('shows one task instance; an unknown run or task is a 404 naming it', async () => {
    expect((await get(tis('02', '/extract'))).body).toMatchObject({
      task_id: 'extract',
      state: 'success',
      try_number: 1,
    });
    expect(await get(tis('02', '/nope'))).toMatchObject({
      status: 404,
      body: { detail: `run '${runIds['02']}' of DAG 'api_etl' has no task 'nope'` },
    });
    expect(await get('/dags/api_etl/dagRuns/nope/taskInstances')).toMatchObject({
      status: 404,
      body: { detail: "DAG 'api_etl' has no run 'nope'" },
    });
    expect(await get('/dags/nope/dagRuns/nope/taskInstances/x')).toMatchObject({
      status: 404,
      body: { detail: "no DAG with id 'nope'" },
    });
  });

  it('serves each try of a log as JSON or text, and 404s a try that did not happen', async () => {
    const first = await get(tis('01', '/flaky/logs/1'));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ dag_id: 'api_etl', dag_run_id: runIds['01'], task_id: 'flaky', try_number: 1 });
    expect(first.body.lines[0]).toMatchObject({ level: 'info', message: 'try 1' });
    expect(
      first.body.lines.some(
        (l: { level: string; message: string }) => l.level === 'error' && l.message.includes('first try fails'),
      ),
    ).toBe(true);
    expect(first.body.content).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO try 1\n/);

    const second = await get(tis('01', '/flaky/logs/2'), { accept: 'text/plain' });
    expect(second.type).toMatch(/^text\/plain/);
    expect(second.body).toMatch(/^\S+ INFO try 2\n$/);
    expect((await get(tis('01', '/extract/logs/1'))).body.lines.map((l: { message: string }) => l.message)).toContain(
      'extracting us',
    );

    expect(await get(tis('01', '/flaky/logs/3'))).toMatchObject({
      status: 404,
      body: { detail: `task 'flaky' of run '${runIds['01']}' has no try 3: it has had 2 tries` },
    });
    expect(await get(tis('01', '/flaky/logs/0'))).toMatchObject({
      status: 400,
      body: { field: 'try_number', detail: 'try_number: must be an integer from 1 to 2147483647' },
    });
    expect(await get(tis('01', '/flaky/logs/first'))).toMatchObject({ status: 400, body: { field: 'try_number' } });
  });

  it('lists XCom entries without values and shows one with its value', async () => {
    const list = await get(tis('01', '/extract/xcomEntries'));
    expect(list.body).toEqual({
      total_entries: 1,
      xcom_entries: [
        {
          dag_id: 'api_etl',
          dag_run_id: runIds['01'],
          task_id: 'extract',
          map_index: -1,
          key: 'return_value',
          logical_date: '2030-01-01T00:00:00.000Z',
          timestamp: expect.stringMatching(/Z$/),
        },
      ],
    });
    expect((await get(tis('01', '/load/xcomEntries'))).body).toEqual({ xcom_entries: [], total_entries: 0 });
    expect((await get(tis('01', '/extract/xcomEntries/return_value'))).body).toMatchObject({
      key: 'return_value',
      value: { rows: 3 },
    });
    expect(await get(tis('01', '/extract/xcomEntries/nope'))).toMatchObject({
      status: 404,
      body: { detail: `task 'extract' of run '${runIds['01']}' has no XCom entry 'nope'` },
    });
    expect(await get(tis('01', '/nope/xcomEntries'))).toMatchObject({
      status: 404,
      body: { detail: expect.stringContaining("has no task 'nope'") },
    });
  });
});

describe('import errors, pools and health', () => {
  it('lists import errors with the file and the field at fault', async () => {
    const { body } = await get('/importErrors');
    expect(body.total_entries).toBe(1);
    expect(body.import_errors[0]).toMatchObject({
      filename: 'broken.ts',
      stack_trace: expect.stringContaining('schedule'),
    });
    const one = await get(`/importErrors/${body.import_errors[0].import_error_id}`);
    expect(one.body).toEqual(body.import_errors[0]);
    expect(await get('/importErrors/42')).toMatchObject({ status: 400, body: { field: 'import_error_id' } });
    expect(await get('/importErrors/00000000-0000-4000-8000-000000000000')).toMatchObject({ status: 404 });
  });

  it('lists pools with their slots in use', async () => {
    const { body } = await get('/pools');
    expect(body).toEqual({
      total_entries: 1,
      pools: [
        {
          name: 'default_pool',
          slots: 128,
          occupied_slots: 0,
          running_slots: 0,
          queued_slots: 0,
          open_slots: 128,
          description: expect.anything(),
        },
      ],
    });
    expect((await get('/pools/default_pool')).body.name).toBe('default_pool');
    expect(await get('/pools/nope')).toMatchObject({ status: 404, body: { detail: "no pool 'nope'" } });
  });

  it('answers /health', async () => {
    expect(await get('/health')).toMatchObject({
      status: 200,
      body: { status: 'healthy', metadatabase: { status: 'healthy' } },
    });
  });
});
