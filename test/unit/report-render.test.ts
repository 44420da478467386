import { describe, expect, it } from 'vitest';
import { niceScale, renderChart } from '../../src/operators/report/chart.js';
import {
  renderCsv,
  renderHtml,
  renderJson,
  renderMarkdown,
  renderReport,
  type ReportTable,
} from '../../src/operators/report/render.js';
import { OperatorError } from '../../src/operators/types.js';

const SALES: ReportTable = {
  columns: [{ name: 'day' }, { name: 'region' }, { name: 'orders', numeric: true }, { name: 'revenue', numeric: true }],
  rows: [
    ['2026-01-01', 'north', 3, '120.50'],
    ['2026-01-02', 'south', 5, '80.00'],
    ['2026-01-03', 'north', null, '99.90'],
  ],
};

const EMPTY: ReportTable = { columns: [{ name: 'id' }, { name: 'note' }], rows: [] };

/** Values that break naive renderers: separators, quotes, line breaks, markup. */
const AWKWARD: ReportTable = {
  columns: [{ name: 'id' }, { name: 'note' }],
  rows: [
    [1, 'a, b'],
    [2, 'say "hi"'],
    [3, 'two\nlines'],
    [4, 'a | b'],
    [5, `<script>alert("x") & 'y'</script>`],
    [6, null],
  ],
};

function thrown(fn: () => unknown): OperatorError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OperatorError);
    return error as OperatorError;
  }
  throw new Error('expected an OperatorError');
}

describe('csv', () => {
  it('writes a header row and RFC 4180 records: fields with a comma, quote or line break quoted, quotes doubled, CRLF line ends', () => {
    expect(renderCsv(AWKWARD)).toBe(
      [
        'id,note',
        '1,"a, b"',
        '2,"say ""hi"""',
        '3,"two\nlines"',
        '4,a | b',
        `5,"<script>alert(""x"") & 'y'</script>"`,
        '6,',
        '',
      ].join('\r\n'),
    );
  });

  it('renders dates as ISO strings, null as empty, bytes as hex and objects as JSON', () => {
    const table: ReportTable = {
      columns: [{ name: 'at' }, { name: 'missing' }, { name: 'raw' }, { name: 'doc' }],
      rows: [[new Date('2026-03-01T12:30:00Z'), null, Buffer.from([0xde, 0xad]), { k: [1, 'x'] }]],
    };
    expect(renderCsv(table)).toBe('at,missing,raw,doc\r\n2026-03-01T12:30:00.000Z,,\\xdead,"{""k"":[1,""x""]}"\r\n');
  });

  it('is the header alone for an empty result', () => {
    expect(renderCsv(EMPTY)).toBe('id,note\r\n');
  });
});

describe('json', () => {
  it('is a pretty array of row objects keyed by column name, null kept, dates as ISO strings', () => {
    const content = renderJson({
      columns: [{ name: 'id' }, { name: 'at' }, { name: 'note' }],
      rows: [[1, new Date('2026-01-01T00:00:00Z'), null]],
    });
    expect(content).toBe('[\n  {\n    "id": 1,\n    "at": "2026-01-01T00:00:00.000Z",\n    "note": null\n  }\n]\n');
    expect(JSON.parse(renderJson(AWKWARD))[2]).toEqual({ id: 3, note: 'two\nlines' });
  });

  it('is an empty array for an empty result', () => {
    expect(JSON.parse(renderJson(EMPTY))).toEqual([]);
  });

  it('refuses two columns of the same name rather than drop one', () => {
    const error = thrown(() => renderJson({ columns: [{ name: 'id' }, { name: 'id' }], rows: [[1, 2]] }));
    expect(error.field).toBe('query');
    expect(error.message).toMatch(/more than one column named 'id'/);
  });
});

describe('markdown', () => {
  it('has the title as a heading and a GitHub table with numeric columns right-aligned', () => {
    expect(renderMarkdown(SALES, 'Daily sales')).toBe(
      [
        '# Daily sales',
        '',
        '| day | region | orders | revenue |',
        '| --- | --- | ---: | ---: |',
        '| 2026-01-01 | north | 3 | 120.50 |',
        '| 2026-01-02 | south | 5 | 80.00 |',
        '| 2026-01-03 | north |  | 99.90 |',
        '',
      ].join('\n'),
    );
  });

  it('escapes pipes (and the backslashes before them) and turns line breaks into <br>, so that every row keeps its cells', () => {
    const lines = renderMarkdown(
      {
        columns: [{ name: 'a|b' }, { name: 'note' }],
        rows: [
          ['x | y', 'two\r\nlines'],
          ['c:\\|', 'ok'],
        ],
      },
      'T',
    ).split('\n');
    expect(lines).toContain('| a\\|b | note |');
    expect(lines).toContain('| x \\| y | two<br>lines |');
    expect(lines).toContain('| c:\\\\\\| | ok |');
    // Every table line splits into exactly two cells on its unescaped pipes.
    for (const line of lines.filter((l) => l.startsWith('|')))
      expect(line.split(/(?<!\\)(?:\\\\)*\|/).length - 2).toBe(2);
  });

  it('keeps the header and says so for an empty result', () => {
    expect(renderMarkdown(EMPTY, 'Nothing')).toBe('# Nothing\n\n| id | note |\n| --- | --- |\n\n_No rows._\n');
  });
});

describe('html', () => {
  it('is a complete page: doctype, charset, the title in <title> and <h1>, a styled table of every row', () => {
    const page = renderHtml(SALES, { title: 'Daily sales' });
    expect(page).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(page).toContain('<meta charset="utf-8">');
    expect(page).toContain('<title>Daily sales</title>');
    expect(page).toContain('<h1>Daily sales</h1>');
    expect(page).toMatch(/<style>[\s\S]*table[\s\S]*<\/style>/);
    expect(page).toContain('<p class="meta">3 rows</p>');
    expect(page).toContain(
      '<thead><tr><th>day</th><th>region</th><th class="num">orders</th><th class="num">revenue</th></tr></thead>',
    );
    expect(page).toContain('<tr><td>2026-01-03</td><td>north</td><td class="num"></td><td class="num">99.90</td></tr>');
    expect(page.trimEnd()).toMatch(/<\/html>$/);
    expect(page).not.toContain('<svg');
  });

  it('escapes < & " \' in values, column names and the title', () => {
    const page = renderHtml(
      { columns: [{ name: '<b>col</b>' }, { name: 'note' }], rows: AWKWARD.rows },
      { title: 'Q&A <"quoted"> it\'s' },
    );
    expect(page).toContain('<title>Q&amp;A &lt;&quot;quoted&quot;&gt; it&#39;s</title>');
    expect(page).toContain('<th class="num">&lt;b&gt;col&lt;/b&gt;</th>');
    expect(page).toContain('<td>&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;</td>');
    expect(page).not.toContain('<script>');
  });

  it('shows an empty result as the table header and a note', () => {
    const page = renderHtml(EMPTY, { title: 'Nothing' });
    expect(page).toContain('<p class="meta">0 rows</p>');
    expect(page).toContain('<thead><tr><th>id</th><th>note</th></tr></thead>\n<tbody>\n</tbody>');
    expect(page).toContain('<p class="empty">No rows.</p>');
  });
});

describe('chart', () => {
  it('draws a line chart of each y series over x inside the HTML page, with axes, ticks, labels and a legend', () => {
    const page = renderReport('html', SALES, { title: 'Daily sales', chart: { x: 'day', y: ['orders', 'revenue'] } });
    const svg = /<svg[\s\S]*<\/svg>/.exec(page)?.[0] ?? '';
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain('aria-label="orders, revenue by day"');
    // One group per series, each with its line and a legend entry.
    expect(svg.match(/<g class="series"/g)).toHaveLength(2);
    expect(svg).toMatch(/<g class="series" data-series="orders"[^>]*>\n<polyline points="[\d., ]+"/);
    expect(svg).toMatch(
      /<g class="series" data-series="revenue"[^>]*>\n<polyline points="(?:[\d.]+,[\d.]+ ){2}[\d.]+,[\d.]+"/,
    );
    expect(svg).toMatch(/<g class="legend">[\s\S]*>orders<\/text>[\s\S]*>revenue<\/text>/);
    // x labels are the dates, y labels round numbers, the x column names its axis.
    for (const label of ['2026-01-01', '2026-01-02', '2026-01-03', '>0<', '>50<', '>100<', '>day<'])
      expect(svg).toContain(label);
    // Tooltips carry the exact values.
    expect(svg).toContain('<title>revenue at 2026-01-01: 120.5</title>');
  });

  it('breaks a line at a null value instead of bridging it', () => {
    const svg = renderChart(SALES, { x: 'day', y: ['orders'] });
    const orders = /data-series="orders"[\s\S]*?<\/g>/.exec(svg)![0];
    // Two points, then the null: one polyline of two points, no marker for the missing day.
    expect(orders.match(/<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/g)).toHaveLength(1);
    expect(orders.match(/<circle/g)).toHaveLength(2);
  });

  it('places dates by time and sorts them, whatever the query order', () => {
    const svg = renderChart(
      {
        columns: [{ name: 'at' }, { name: 'n' }],
        rows: [
          [new Date('2026-01-10T00:00:00Z'), 1],
          [new Date('2026-01-01T00:00:00Z'), 2],
          [new Date('2026-01-02T00:00:00Z'), 3],
        ],
      },
      { x: 'at', y: ['n'] },
    );
    const xs = /<polyline points="([^"]+)"/
      .exec(svg)![1]!
      .split(' ')
      .map((p) => Number(p.split(',')[0]));
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    // Jan 2 sits close to Jan 1, far from Jan 10.
    expect(xs[1]! - xs[0]!).toBeLessThan((xs[2]! - xs[1]!) / 5);
  });

  it('draws grouped bars from zero, one bar per series and x value, negative values below the zero line', () => {
    const svg = renderChart(
      {
        columns: [{ name: 'region' }, { name: 'profit' }, { name: 'cost' }],
        rows: [
          ['north', 10, 4],
          ['south', -5, 3],
        ],
      },
      { x: 'region', y: ['profit', 'cost'], type: 'bar' },
    );
    expect(svg.match(/<rect x=/g)!.length).toBe(4 + 2); // 4 bars and 2 legend swatches
    expect(svg).toContain('>north</text>');
    expect(svg).toContain('>-5<');
    expect(svg).toContain('<title>profit at south: -5</title>');
    expect(svg).not.toContain('<polyline');
  });

  it('is absent unless asked for, and says there is nothing to chart for an empty result', () => {
    expect(renderReport('html', SALES, { title: 'T' })).not.toContain('<svg');
    const empty = renderReport(
      'html',
      { columns: [{ name: 'day' }, { name: 'n' }], rows: [] },
      { title: 'T', chart: { x: 'day', y: ['n'] } },
    );
    expect(empty).toContain('<svg');
    expect(empty).toContain('no rows to chart');
    expect(empty).not.toContain('<polyline');
  });

  it('escapes column names and x values in the SVG', () => {
    const svg = renderChart(
      { columns: [{ name: 'x<&>' }, { name: `y"'` }], rows: [['<a>', 1]] },
      { x: 'x<&>', y: [`y"'`] },
    );
    expect(svg).toContain('>x&lt;&amp;&gt;</text>');
    expect(svg).toContain('data-series="y&quot;&#39;"');
    expect(svg).toContain('>&lt;a&gt;</text>');
    expect(svg).not.toContain('<a>');
  });

  it('fails naming chart.x or chart.y when a column is not in the result, listing the columns there are', () => {
    expect(thrown(() => renderChart(SALES, { x: 'date', y: ['orders'] }))).toMatchObject({
      field: 'chart.x',
      message: "report chart.x: column 'date' is not in the query result (columns: day, region, orders, revenue)",
    });
    expect(thrown(() => renderChart(SALES, { x: 'day', y: ['orders', 'profit'] }))).toMatchObject({
      field: 'chart.y',
      message: expect.stringContaining("column 'profit' is not in the query result"),
    });
  });

  it('fails naming the y column and the row when a value is not a number', () => {
    const error = thrown(() => renderChart(SALES, { x: 'day', y: ['region'] }));
    expect(error.field).toBe('chart.y');
    expect(error.message).toBe(`report chart.y: column 'region' must hold numbers, but row 1 has "north"`);
  });
});

describe('niceScale', () => {
  it('covers the range with round steps', () => {
    expect(niceScale(3, 97).ticks).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceScale(0.12, 0.5).ticks).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(niceScale(-5, 10).ticks).toEqual([-5, 0, 5, 10]);
    expect(niceScale(0.001, 0.0013).ticks).toEqual([0.001, 0.0011, 0.0012, 0.0013]);
    // A single value gets a range around it.
    expect(niceScale(7, 7).ticks).toEqual([6, 6.5, 7, 7.5, 8]);
  });

  it('labels large numbers compactly unless that would make two ticks look the same', () => {
    const millions = renderChart(
      {
        columns: [{ name: 'x' }, { name: 'y' }],
        rows: [
          ['a', 0],
          ['b', 25_000_000],
        ],
      },
      { x: 'x', y: ['y'], type: 'bar' },
    );
    expect(millions).toContain('>25M<');
    const close = renderChart(
      {
        columns: [{ name: 'x' }, { name: 'y' }],
        rows: [
          ['a', 1e9],
          ['b', 1e9 + 3],
        ],
      },
      { x: 'x', y: ['y'] },
    );
    expect(close).toContain('>1,000,000,003<');
  });
});
