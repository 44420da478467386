/**
 * Reports end to end: an engine runs a DAG whose report tasks query a scratch database
 * (UPDRAFT_CONN_WH), the executor stores each report with its task's success, and
 * `updraft reports list` / `reports show` read them back as a user would, in a child
 * process on the same database. PostgreSQL only: the CLI and the engine share it live.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportSummary } from '../../src/catalog/reports.js';
import { CLI_TEST_TIMEOUT, runUpdraft, STACK_FRAME, table } from '../support/cli.js';
import type { TestDatabase } from '../support/db.js';
import { useEngine, type FinishedRun } from '../support/engine.js';
import { useScratchDatabases } from '../support/operators.js';

// A future start date: the only runs are the ones the test triggers.
const SALES = `import { dag } from 'updraft';

export default dag({ id: 'sales_reports', schedule: '@daily', startDate: '2099-01-01' }, (t) => {
  const query = ({ interval }) => ({
    text: 'select region, sum(revenue) as revenue from sales where at >= $1 and at < $2 group by region order by region',
    values: [interval.start, interval.end],
  });
  t.report('daily_csv', { conn: 'wh', format: 'csv', query });
  t.report('daily_html', { conn: 'wh', format: 'html', title: 'Revenue by region', chart: { x: 'region', y: ['revenue'], type: 'bar' }, query });
  t.report('too_many', { conn: 'wh', format: 'json', maxRows: 1, query });
});
`;

const dbs = useScratchDatabases(['wh']);
let savedConn: string | undefined;
let home: string;
beforeAll(async () => {
  // Read by the engine when a task asks for the connection, so set before any run.
  savedConn = process.env.UPDRAFT_CONN_WH;
  process.env.UPDRAFT_CONN_WH = dbs.url('wh');
  home = await mkdtemp(path.join(os.tmpdir(), 'updraft-home-'));
  await dbs.query(
    'wh',
    `create table sales (at timestamptz not null, region text not null, revenue numeric(10, 2) not null);
     insert into sales values ('2026-01-01 09:00Z', 'north', 120.50), ('2026-01-01 17:00Z', 'north', 10.00), ('2026-01-01 10:00Z', 'south', 80.00),
                              ('2026-01-02 09:00Z', 'east', 999.00)`,
  );
});
afterAll(async () => {
  if (savedConn === undefined) delete process.env.UPDRAFT_CONN_WH;
  else process.env.UPDRAFT_CONN_WH = savedConn;
  await rm(home, { recursive: true, force: true });
});
const setup = useEngine({ 'sales.ts': SALES });

const CSV = 'region,revenue\r\nnorth,130.50\r\nsouth,80.00\r\n';
const updraft = (args: string[]) =>
  runUpdraft(args, { DATABASE_URL: (setup().database as TestDatabase).url!, UPDRAFT_HOME: home });

describe('reports from a DAG run, through the CLI', () => {
  let run: FinishedRun;
  let listed: ReportSummary[];

  it(
    'stores the report of each successful report task, and none for the one that failed',
    async () => {
      // A manual run at noon on 2 January covers the day before: 1 January.
      run = await setup().h.run('sales_reports', { logicalDate: new Date('2026-01-02T12:00:00Z') });
      expect(run.tasks.daily_csv).toMatchObject({
        state: 'success',
        result: { format: 'csv', title: 'daily_csv', rows: 2, bytes: Buffer.byteLength(CSV) },
      });
      expect(run.tasks.daily_html).toMatchObject({
        state: 'success',
        result: { format: 'html', title: 'Revenue by region', rows: 2 },
      });
      expect(run.tasks.too_many).toMatchObject({
        state: 'failed',
        error: expect.stringContaining('report maxRows: the query returns more than 1 rows'),
      });
      expect(run.state).toBe('failed');

      const json = await updraft(['reports', 'list', '--dag', 'sales_reports', '--json']);
      expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: '' });
      listed = JSON.parse(json.stdout) as ReportSummary[];
      const times = listed.map((r) => r.createdAt);
      expect(times).toEqual([...times].sort().reverse());
      const byTask = Object.fromEntries(listed.map((r) => [r.taskId, r]));
      expect(Object.keys(byTask).sort()).toEqual(['daily_csv', 'daily_html']);
      expect(byTask.daily_csv).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        dagId: 'sales_reports',
        runId: run.runId,
        taskId: 'daily_csv',
        tryNumber: 1,
        format: 'csv',
        title: 'daily_csv',
        rows: 2,
        bytes: Buffer.byteLength(CSV),
        createdAt: expect.any(String),
      });
      expect(byTask.daily_html!.bytes).toBe((run.tasks.daily_html!.result as { bytes: number }).bytes);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'lists reports as a table, filtered by DAG and run, newest first, and says when --limit left some out',
    async () => {
      const list = await updraft(['reports', 'list', '--run', run.runId]);
      expect(list.code).toBe(0);
      const [header, ...rows] = table(list.stdout);
      expect(header).toEqual([
        'id',
        'dag_id',
        'run_id',
        'task_id',
        'try',
        'format',
        'rows',
        'size',
        'created',
        'title',
      ]);
      expect(rows.map((r) => [r[1], r[2], r[3], r[4], r[5], r[6], r[9]]).sort()).toEqual([
        ['sales_reports', run.runId, 'daily_csv', '1', 'csv', '2', 'daily_csv'],
        ['sales_reports', run.runId, 'daily_html', '1', 'html', '2', 'Revenue by region'],
      ]);
      expect(rows.find((r) => r[3] === 'daily_csv')![7]).toBe(`${Buffer.byteLength(CSV)} B`);

      const one = await updraft(['reports', 'list', '--dag', 'sales_reports', '--limit', '1']);
      expect(
        table(one.stdout)
          .slice(1)
          .map((r) => r[0]),
      ).toEqual([listed[0]!.id]);
      expect(one.stderr).toBe('(only the newest 1 shown: raise --limit to see older reports)\n');

      expect((await updraft(['reports', 'list', '--run', 'manual__1999-01-01T00:00:00+00:00'])).stdout).toBe(
        "no reports of run 'manual__1999-01-01T00:00:00+00:00'\n",
      );
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'shows a report as rendered, or writes it to a file and says where',
    async () => {
      const byTask = Object.fromEntries(listed.map((r) => [r.taskId, r]));
      const shown = await updraft(['reports', 'show', byTask.daily_csv!.id]);
      expect(shown).toEqual({ code: 0, stdout: CSV, stderr: '' });

      const file = path.join(home, 'revenue.html');
      const written = await updraft(['reports', 'show', byTask.daily_html!.id, '--output', file]);
      expect(written.code).toBe(0);
      expect(written.stdout).toContain(`to ${file}\n`);
      expect(written.stdout).toMatch(
        /^wrote the html report 'Revenue by region' \(sales_reports\.daily_html, run manual__2026-01-02T12:00:00\+00:00, 2 rows, [\d.]+ KiB\)/,
      );
      const page = await readFile(file, 'utf8');
      expect(page).toMatch(/^<!doctype html>/);
      expect(page).toContain('<title>Revenue by region</title>');
      expect(page).toMatch(/<svg[\s\S]*data-series="revenue"[\s\S]*<\/svg>/);
      expect(page).toContain('<td>north</td><td class="num">130.50</td>');
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'names what it could not find: a malformed id, an unknown id, an unknown DAG; without a stack trace',
    async () => {
      const malformed = await updraft(['reports', 'show', 'not-a-uuid']);
      expect(malformed.code).toBe(1);
      expect(malformed.stderr).toMatch(
        /^updraft: no report 'not-a-uuid': report ids are UUIDs like [0-9a-f-]{36} \(see 'updraft reports list'\)\n$/,
      );

      const unknown = await updraft(['reports', 'show', '00000000-0000-4000-8000-000000000000']);
      expect(unknown).toMatchObject({
        code: 1,
        stderr: "updraft: no report '00000000-0000-4000-8000-000000000000' (see 'updraft reports list')\n",
      });

      const noDag = await updraft(['reports', 'list', '--dag', 'nope']);
      expect(noDag).toMatchObject({ code: 1, stderr: "updraft: no DAG with id 'nope' (see 'updraft dags list')\n" });
      for (const r of [malformed, unknown, noDag]) expect(r.stderr).not.toMatch(STACK_FRAME);
    },
    CLI_TEST_TIMEOUT,
  );
});
