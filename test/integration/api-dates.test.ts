/**
 * The API's dates by the one rule (DATE_INPUT_RULE): a clear's end_date is the end of a
 * range of days, as `updraft clear --to` (the whole day); list filters such as
 * execution_date_lte are instants; the range of years is checked in the zone the date is
 * read in, not in the most extreme zones.
 */
import type { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { createToken, createUser } from '../../src/auth/index.js';
import { webApp } from '../../src/web/server.js';
import { useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';
export default dag({ id: 'berlin', schedule: null, timezone: 'Europe/Berlin' }, (t) => {
  t.task('only', () => 'ok');
});
`;

const setup = useEngine({ 'berlin.ts': DAGS });
let app: Hono;
let token: string;

beforeAll(async () => {
  const { db } = setup().database;
  app = webApp(setup().h.engine);
  await createUser(db, { username: 'olga', role: 'operator', password: 'operator-password-1', actor: 'test' });
  token = (await createToken(db, { username: 'olga', actor: 'test' })).token;
});

async function call(method: string, path: string, body?: unknown) {
  const res = await app.request(path, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & {
      dag_runs?: { dag_run_id: string }[];
      total_entries?: number;
    },
  };
}

describe('API dates', () => {
  it("clear's end_date covers the whole day in the DAG's timezone, as the CLI's clear --to; execution_date_lte is an instant", async () => {
    // 02:00 on 2026-11-03 in Berlin.
    const run = await setup().h.run('berlin', { logicalDate: new Date('2026-11-03T01:00:00Z') });
    const clear = (body: object) => call('POST', '/api/v1/dags/berlin/clearTaskInstances', { dry_run: true, ...body });
    expect(await clear({ start_date: '2026-11-03', end_date: '2026-11-03' })).toMatchObject({
      status: 200,
      body: { total_entries: 1 },
    });
    expect(await clear({ start_date: '2026-11-03', end_date: '2026-11-03T01:59' })).toMatchObject({
      status: 200,
      body: { total_entries: 0 },
    });
    expect(await clear({ end_date: '2026-11-02' })).toMatchObject({ status: 200, body: { total_entries: 0 } });
    const ids = async (query: string) =>
      ((await call('GET', `/api/v1/dags/berlin/dagRuns?${query}`)).body.dag_runs ?? []).map((r) => r.dag_run_id);
    expect(await ids('execution_date_lte=2026-11-03')).toEqual([]);
    expect(await ids('execution_date_lte=2026-11-03T02:00')).toEqual([run.runId]);
  });

  it('refuses a year outside 1 to 9999 in the zone the date is read in, and only there', async () => {
    // UTC routes (every DAG's runs, the audit log): the first and the last storable days are fine.
    expect(
      (await call('GET', '/api/v1/dags/~/dagRuns?execution_date_gte=0001-01-01&execution_date_lte=9999-12-31T23:30'))
        .status,
    ).toBe(200);
    expect((await call('GET', '/api/v1/eventLogs?after=0001-01-01&before=9999-12-31T23:59:59')).status).toBe(200);
    // Berlin: midnight of 0001-01-01 there is still year 0 in UTC.
    const early = await call('GET', '/api/v1/dags/berlin/dagRuns?execution_date_gte=0001-01-01');
    expect(early).toMatchObject({ status: 400, body: { field: 'execution_date_gte' } });
    expect(early.body.detail).toContain('within years 1 to 9999');
    expect((await call('GET', '/api/v1/dags/berlin/dagRuns?execution_date_gte=0001-01-01T01:00')).status).toBe(200);
    // A clear to the last day ends at the last storable instant.
    expect(
      await call('POST', '/api/v1/dags/berlin/clearTaskInstances', {
        dry_run: true,
        start_date: '2026-11-03',
        end_date: '9999-12-31',
      }),
    ).toMatchObject({ status: 200, body: { total_entries: 1 } });
    // The form is still checked by the schema.
    expect(await call('GET', '/api/v1/dags/~/dagRuns?execution_date_gte=2026-02-30')).toMatchObject({
      status: 400,
      body: { field: 'execution_date_gte' },
    });
  });
});
