/**
 * The report operator against a real PostgreSQL, run the way a task thread runs it: a
 * query built from the run's interval with bound values, each format rendered from
 * PostgreSQL's own types, and the ways a report fails (too many rows, a chart column
 * the query lacks, a broken query) each naming the field to fix.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskContext } from '../../src/dag/types.js';
import type { ReportConfig } from '../../src/dag/operators/report.js';
import { reportOperator } from '../../src/operators/report/run.js';
import { OperatorError } from '../../src/operators/types.js';
import { operatorHarness, useScratchDatabases } from '../support/operators.js';

const dbs = useScratchDatabases(['wh']);
const harness = () => operatorHarness({ wh: dbs.url('wh') }, 'report');
const run = (h: ReturnType<typeof harness>, config: ReportConfig, overrides: Partial<TaskContext<any>> = {}) =>
  reportOperator.run(reportOperator.schema.parse(config), h.context(overrides));

/** Three days of the run's interval; the rows before and after it must stay out of every report. */
const INTERVAL = { interval: { start: new Date('2026-01-01T00:00:00Z'), end: new Date('2026-01-04T00:00:00Z') } };

/** Rows of `sales` in the run's interval, the interval's bounds bound as $1 and $2. */
const inInterval =
  (columns: string): ReportConfig['query'] =>
  ({ interval }) => ({
    text: `select ${columns} from sales where at >= $1 and at < $2 order by at, region`,
    values: [interval.start, interval.end],
  });

beforeAll(async () => {
  await dbs.query(
    'wh',
    `create table sales (at timestamptz not null, region text not null, orders int, revenue numeric(10, 2) not null, note text);
     insert into sales values
       ('2025-12-31 23:00Z', 'north', 99, 999.00, 'before the interval'),
       ('2026-01-01 09:00Z', 'north', 3, 120.50, 'plain'),
       ('2026-01-01 10:00Z', 'south', 5, 80.00, 'a, b and "c"'),
       ('2026-01-02 09:00Z', 'north', null, 99.90, E'two\\nlines | piped'),
       ('2026-01-03 09:00Z', 'south', 7, 150.25, '<script>alert(1)</script> & co'),
       ('2026-01-04 00:00Z', 'south', 99, 999.00, 'after the interval')`,
  );
});

async function failure(promise: Promise<unknown>): Promise<OperatorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OperatorError);
  return error as OperatorError;
}

describe('report operator', () => {
  it('renders CSV of the rows in the interval, keeps it as the report and returns its size', async () => {
    const h = harness();
    const result = await run(
      h,
      {
        conn: 'wh',
        format: 'csv',
        query: inInterval("to_char(at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as at, region, orders, revenue, note"),
      },
      INTERVAL,
    );
    const content = [
      'at,region,orders,revenue,note',
      '2026-01-01 09:00,north,3,120.50,plain',
      '2026-01-01 10:00,south,5,80.00,"a, b and ""c"""',
      '2026-01-02 09:00,north,,99.90,"two\nlines | piped"',
      '2026-01-03 09:00,south,7,150.25,<script>alert(1)</script> & co',
      '',
    ].join('\r\n');
    expect(result).toEqual({ format: 'csv', title: 'task', rows: 4, bytes: Buffer.byteLength(content) });
    h.commit();
    expect(h.reports).toEqual([{ format: 'csv', title: 'task', content, rows: 4 }]);
    expect(h.logs).toContain('info: query: 4 rows, 5 columns');
  });

  it('renders JSON rows with PostgreSQL types as they read: instants in UTC, dates and timestamps unshifted, numeric exact, null kept', async () => {
    const h = harness();
    await run(
      h,
      {
        conn: 'wh',
        format: 'json',
        title: 'Sales',
        query: inInterval(
          "at, (at at time zone 'UTC')::date as day, (at at time zone 'UTC') as local_at, interval '1 day 2 hours' as lag, region, orders, revenue, note",
        ),
      },
      INTERVAL,
    );
    h.commit();
    const rows = JSON.parse(h.reports[0]!.content) as Record<string, unknown>[];
    expect(rows).toHaveLength(4);
    expect(rows[2]).toEqual({
      at: '2026-01-02T09:00:00.000Z',
      day: '2026-01-02',
      local_at: '2026-01-02T09:00:00',
      lag: '1 day 02:00:00',
      region: 'north',
      orders: null,
      revenue: '99.90',
      note: 'two\nlines | piped',
    });
    expect(h.reports[0]).toMatchObject({ format: 'json', title: 'Sales', rows: 4 });
  });

  it('renders Markdown under the title, numeric columns right-aligned and pipes escaped', async () => {
    const h = harness();
    await run(
      h,
      {
        conn: 'wh',
        format: 'markdown',
        title: 'Sales, 1-3 Jan',
        query: inInterval("(at at time zone 'UTC')::date as day, region, orders, revenue, note"),
      },
      INTERVAL,
    );
    h.commit();
    const lines = h.reports[0]!.content.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      '# Sales, 1-3 Jan',
      '',
      '| day | region | orders | revenue | note |',
      '| --- | --- | ---: | ---: | --- |',
      '| 2026-01-01 | north | 3 | 120.50 | plain |',
    ]);
    expect(lines).toContain('| 2026-01-02 | north |  | 99.90 | two<br>lines \\| piped |');
  });

  it('renders a standalone HTML page with the values escaped and a chart of the y series', async () => {
    const h = harness();
    const result = await run(
      h,
      {
        conn: 'wh',
        format: 'html',
        title: 'Revenue <by> day',
        chart: { x: 'day', y: ['revenue', 'orders'] },
        query: inInterval("(at at time zone 'UTC')::date as day, region, orders, revenue, note"),
      },
      INTERVAL,
    );
    h.commit();
    const page = h.reports[0]!.content;
    expect(result).toMatchObject({ format: 'html', title: 'Revenue <by> day', rows: 4 });
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('<title>Revenue &lt;by&gt; day</title>');
    expect(page).toContain('<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</td>');
    expect(page).not.toContain('<script>');
    expect(page).toContain('<td class="num">150.25</td>');
    const svg = /<svg[\s\S]*<\/svg>/.exec(page)![0];
    expect(svg).toContain('data-series="revenue"');
    expect(svg).toContain('data-series="orders"');
    expect(svg).toContain('>2026-01-01<');
    expect(svg).toContain('<title>revenue at 2026-01-03: 150.25</title>');
  });

  it('fails naming maxRows when the query returns more rows, after fetching one batch rather than the whole result', async () => {
    const h = harness();
    // Row 12 divides by zero: the query fails if the server computes more than the batch of maxRows + 1.
    const error = await failure(
      run(h, {
        conn: 'wh',
        format: 'csv',
        maxRows: 10,
        query: 'select n, 1 / (12 - n) as d from generate_series(1, 1000000) n',
      }),
    );
    expect(error.message).toBe(
      'report maxRows: the query returns more than 10 rows; narrow it (a where clause, an aggregate) or raise maxRows (at most 1,000,000)',
    );
    expect(error.retryable).toBe(false);
    h.commit();
    expect(h.reports).toEqual([]);

    // Exactly maxRows fits; and the connection the stopped query used is fine for the next one.
    expect(
      await run(h, {
        conn: 'wh',
        format: 'csv',
        maxRows: 10,
        query: { text: 'select generate_series(1, $1::int) as n', values: [10] },
      }),
    ).toMatchObject({ rows: 10 });
  });

  it('fails naming chart.y when the chart names a column the query lacks, listing the columns it has', async () => {
    const h = harness();
    const error = await failure(
      run(
        h,
        { conn: 'wh', format: 'html', chart: { x: 'region', y: ['profit'] }, query: inInterval('region, revenue') },
        INTERVAL,
      ),
    );
    expect(error.message).toBe("report chart.y: column 'profit' is not in the query result (columns: region, revenue)");
    h.commit();
    expect(h.reports).toEqual([]);
  });

  it("fails naming 'report query' with the server's message when the query is wrong", async () => {
    const h = harness();
    const error = await failure(run(h, { conn: 'wh', format: 'csv', query: 'select region, profit from sales' }));
    expect(error.message).toBe('report query: column "profit" does not exist');
    expect(error.field).toBe('query');
    expect(error.retryable).toBe(false);
  });

  it('refuses a statement that is not a query, and never changes data', async () => {
    const h = harness();
    const error = await failure(run(h, { conn: 'wh', format: 'csv', query: 'create table scratch (id int)' }));
    expect(error.message).toBe(
      'report query: a report runs a query (SELECT, WITH, VALUES or TABLE); the statement given is none of these',
    );
    // A data-changing CTE looks like a query, but a cursor (in a read-only transaction) refuses it.
    const writing = await failure(
      run(h, {
        conn: 'wh',
        format: 'csv',
        query: 'with gone as (delete from sales returning *) select count(*) from gone',
      }),
    );
    expect(writing.message).toBe('report query: DECLARE CURSOR must not contain data-modifying statements in WITH');
    expect((await dbs.query('wh', 'select count(*)::int as n from sales'))[0]!.n).toBeGreaterThan(0);
  });
});
