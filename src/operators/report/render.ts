/**
 * A query result rendered as a report: pure functions of the table, so that what a
 * report looks like is tested without a database. Dates are ISO 8601; null is an empty
 * cell (CSV, Markdown, HTML) or null (JSON).
 */
import { OperatorError } from '../types.js';
import { renderChart, type ChartSpec } from './chart.js';
import type { ReportFormat } from '../../dag/operators/report.js';
import { cellText, escapeHtml, isNumericColumn, jsonValue, type ReportTable } from './values.js';

export type { ReportColumn, ReportTable } from './values.js';

export interface RenderOptions {
  /** Heading of Markdown and HTML reports. */
  title: string;
  /** HTML only: a chart above the table. */
  chart?: ChartSpec;
}

export function renderReport(format: ReportFormat, table: ReportTable, options: RenderOptions): string {
  switch (format) {
    case 'csv':
      return renderCsv(table);
    case 'json':
      return renderJson(table);
    case 'markdown':
      return renderMarkdown(table, options.title);
    case 'html':
      return renderHtml(table, options);
  }
}

/** RFC 4180: a header row, CRLF line ends, fields with a comma, quote or line break quoted and their quotes doubled. */
export function renderCsv(table: ReportTable): string {
  if (table.columns.length === 0) return '';
  const field = (text: string) => (/[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const line = (cells: string[]) => `${cells.map(field).join(',')}\r\n`;
  return (
    line(table.columns.map((c) => c.name)) +
    table.rows.map((row) => line(table.columns.map((_, i) => cellText(row[i])))).join('')
  );
}

/** An array of row objects keyed by column name, pretty-printed. */
export function renderJson(table: ReportTable): string {
  const names = table.columns.map((c) => c.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) {
    throw new OperatorError(
      'report',
      'query',
      `the result has more than one column named '${twice}', and a JSON row can hold only one: name them apart ('... as ${twice}_2')`,
    );
  }
  const rows = table.rows.map((row) => Object.fromEntries(names.map((name, i) => [name, jsonValue(row[i])])));
  return `${JSON.stringify(rows, null, 2)}\n`;
}

/** A heading and a GitHub table; numeric columns right-aligned, pipes and backslashes escaped, line breaks as <br>. */
export function renderMarkdown(table: ReportTable, title: string): string {
  const heading = `# ${oneLine(title)}\n`;
  if (table.columns.length === 0) return `${heading}\n_The query returned no columns._\n`;
  // Backslashes too: escaping only the pipe of 'a\|b' gives 'a\\|b', whose pipe ends the cell.
  const cell = (text: string) => text.replace(/[\\|]/g, '\\$&').replace(/\r\n|\r|\n/g, '<br>');
  const line = (cells: string[]) => `| ${cells.join(' | ')} |\n`;
  const numeric = table.columns.map((_, i) => isNumericColumn(table, i));
  const parts = [
    heading,
    '\n',
    line(table.columns.map((c) => cell(c.name))),
    line(numeric.map((n) => (n ? '---:' : '---'))),
    ...table.rows.map((row) => line(table.columns.map((_, i) => cell(cellText(row[i]))))),
  ];
  if (table.rows.length === 0) parts.push('\n_No rows._\n');
  return parts.join('');
}

const STYLE = `
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; margin: 2rem; }
  h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
  .meta { color: #6b7280; margin: 0 0 1.25rem; }
  figure { margin: 0 0 1.5rem; }
  figure svg { max-width: 100%; height: auto; }
  table { border-collapse: collapse; }
  th, td { border: 1px solid #e5e7eb; padding: .35rem .65rem; text-align: left; vertical-align: top; white-space: pre-wrap; }
  th { background: #f3f4f6; font-weight: 600; position: sticky; top: 0; }
  tbody tr:nth-child(even) { background: #f9fafb; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  .empty { color: #6b7280; font-style: italic; }
`;

/** A standalone page: the title, the row count, the chart if any, and the table; every value escaped. */
export function renderHtml(table: ReportTable, options: RenderOptions): string {
  const title = escapeHtml(options.title);
  const numeric = table.columns.map((_, i) => isNumericColumn(table, i));
  const th = (name: string, i: number) => `<th${numeric[i] ? ' class="num"' : ''}>${escapeHtml(name)}</th>`;
  const td = (value: unknown, i: number) =>
    `<td${numeric[i] ? ' class="num"' : ''}>${escapeHtml(cellText(value))}</td>`;
  const body = [
    `<h1>${title}</h1>`,
    `<p class="meta">${table.rows.length === 1 ? '1 row' : `${table.rows.length.toLocaleString('en-US')} rows`}</p>`,
  ];
  if (options.chart) body.push(`<figure>\n${renderChart(table, options.chart)}\n</figure>`);
  if (table.columns.length === 0) body.push('<p class="empty">The query returned no columns.</p>');
  else {
    body.push(
      '<table>',
      `<thead><tr>${table.columns.map((c, i) => th(c.name, i)).join('')}</tr></thead>`,
      '<tbody>',
      ...table.rows.map((row) => `<tr>${table.columns.map((_, i) => td(row[i], i)).join('')}</tr>`),
      '</tbody>',
      '</table>',
    );
    if (table.rows.length === 0) body.push('<p class="empty">No rows.</p>');
  }
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="Updraft">',
    `<title>${title}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
