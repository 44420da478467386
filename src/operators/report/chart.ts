/**
 * The inline SVG chart of an HTML report, written by hand: one or more numeric `y`
 * columns over an `x` column, as lines or grouped bars, with axes, ticks, labels and a
 * legend. Lines over dates or numbers are placed by value and sorted; anything else
 * (and every bar chart) is spaced evenly in the query's order.
 */
import { OperatorError } from '../types.js';
import type { ReportConfig } from '../../dag/operators/report.js';
import { cellText, escapeHtml, type ReportTable } from './values.js';

export type ChartSpec = NonNullable<ReportConfig['chart']>;

const WIDTH = 800;
const PLOT_HEIGHT = 280;
const MARGIN = { top: 16, right: 20 };
/** Width of a character of the 12px labels, near enough to keep labels from overlapping. */
const CHAR_WIDTH = 7;
const MAX_LABEL_CHARS = 20;
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
/** Beyond these, markers and tooltips would add bytes without being readable. */
const MAX_MARKERS = 100;
const MAX_TOOLTIPS = 2_000;
/** '2026-01-01', '2026-01-01T10:00:00.5': dates and zone-less timestamps as the operator hands them over. */
const ISO_DATE = /^\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?)?$/;

interface Point {
  x: unknown;
  ys: (number | null)[];
}

interface Axis {
  /** Pixel position of the i-th point. */
  at(i: number): number;
  ticks: { at: number; label: string }[];
}

interface Plot {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/**
 * The chart as an <svg> element. Fails naming the field when a column is not in the
 * result or a y value is not a number; rows whose x is null are left out.
 */
export function renderChart(table: ReportTable, chart: ChartSpec): string {
  const xIndex = columnIndex(table, chart.x, 'chart.x');
  const yIndexes = chart.y.map((name) => columnIndex(table, name, 'chart.y'));
  const type = chart.type ?? 'line';
  let points: Point[] = [];
  for (const [i, row] of table.rows.entries()) {
    if (row[xIndex] === null || row[xIndex] === undefined) continue;
    points.push({ x: row[xIndex], ys: yIndexes.map((y, k) => numberIn(row[y], chart.y[k]!, i + 1)) });
  }

  const [lo, hi] = extent(points, type === 'bar');
  const scale = niceScale(lo, hi);
  const yLabels = tickLabels(scale);
  const plot: Plot = {
    left: 16 + Math.max(...yLabels.map((l) => l.length)) * CHAR_WIDTH,
    right: WIDTH - MARGIN.right,
    top: MARGIN.top,
    bottom: MARGIN.top + PLOT_HEIGHT,
  };
  const y = (v: number) => plot.bottom - ((v - scale.lo) / (scale.hi - scale.lo)) * PLOT_HEIGHT;

  const keys = type === 'line' ? continuousKeys(points, table.columns[xIndex]?.numeric ?? false) : undefined;
  if (keys) points = keys.order.map((i) => points[i]!);
  const xAxis = keys ? continuousAxis(keys.values, keys.kind, plot) : categoryAxis(points, plot);

  const legend = legendItems(chart.y, plot, plot.bottom + 56);
  const height = plot.bottom + 56 + legend.height;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(`${chart.y.join(', ')} by ${chart.x}`)}" font-family="system-ui, sans-serif" font-size="12">`,
    ...scale.ticks.map((v, i) => {
      const at = r(y(v));
      return `<line x1="${plot.left}" x2="${plot.right}" y1="${at}" y2="${at}" stroke="#e5e7eb"/><text x="${plot.left - 8}" y="${at}" dy="0.32em" text-anchor="end" fill="#4b5563">${escapeHtml(yLabels[i]!)}</text>`;
    }),
    `<line x1="${plot.left}" x2="${plot.left}" y1="${plot.top}" y2="${plot.bottom}" stroke="#6b7280"/>`,
    `<line x1="${plot.left}" x2="${plot.right}" y1="${plot.bottom}" y2="${plot.bottom}" stroke="#6b7280"/>`,
    ...xAxis.ticks.map(
      ({ at, label }) =>
        `<line x1="${r(at)}" x2="${r(at)}" y1="${plot.bottom}" y2="${plot.bottom + 5}" stroke="#6b7280"/><text x="${r(within(at, label))}" y="${plot.bottom + 18}" text-anchor="middle" fill="#4b5563">${escapeHtml(label)}</text>`,
    ),
    `<text x="${r((plot.left + plot.right) / 2)}" y="${plot.bottom + 40}" text-anchor="middle" font-weight="600" fill="#1f2937">${escapeHtml(chart.x)}</text>`,
  ];
  if (points.length === 0) {
    parts.push(
      `<text x="${r((plot.left + plot.right) / 2)}" y="${r((plot.top + plot.bottom) / 2)}" text-anchor="middle" fill="#6b7280">no rows to chart</text>`,
    );
  } else if (type === 'bar') {
    // The scale of a bar chart always holds zero.
    parts.push(...bars(points, chart.y, plot, y, y(0)));
    if (scale.lo < 0)
      parts.push(`<line x1="${plot.left}" x2="${plot.right}" y1="${r(y(0))}" y2="${r(y(0))}" stroke="#6b7280"/>`);
  } else {
    parts.push(...lines(points, chart.y, xAxis, y));
  }
  parts.push(...legend.svg, '</svg>');
  return parts.join('\n');
}

function columnIndex(table: ReportTable, name: string, field: string): number {
  const index = table.columns.findIndex((c) => c.name === name);
  if (index < 0) {
    const have = table.columns.map((c) => c.name).join(', ') || 'none';
    throw new OperatorError('report', field, `column '${name}' is not in the query result (columns: ${have})`);
  }
  return index;
}

/** A y value as a number; numeric and bigint columns arrive as text. Null, NaN and infinities have no place on the axis: gaps. */
function numberIn(value: unknown, column: string, row: number): number | null {
  if (value === null || value === undefined) return null;
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'bigint'
        ? Number(value)
        : typeof value === 'string' && value.trim() !== ''
          ? Number(value)
          : Number.NaN;
  if (Number.isFinite(n)) return n;
  if (typeof value === 'number' || (typeof value === 'string' && NOT_FINITE.test(value))) return null;
  const shown = cellText(value);
  throw new OperatorError(
    'report',
    'chart.y',
    `column '${column}' must hold numbers, but row ${row} has ${JSON.stringify(shown.length > 40 ? `${shown.slice(0, 40)}…` : shown)}`,
  );
}

const NOT_FINITE = /^\s*[-+]?(?:NaN|Infinity)\s*$/;

/** The y values' range (with zero for bars, which grow from it); [0, 1] without any. A loop: a spread of a million values overflows the stack. */
function extent(points: Point[], withZero: boolean): [number, number] {
  let [lo, hi] = withZero ? [0, 0] : [Infinity, -Infinity];
  for (const p of points) {
    for (const v of p.ys) {
      if (v === null) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo > hi ? [0, 1] : [lo, hi];
}

/** Where each point sits when x is a date or a number throughout; undefined otherwise. */
function continuousKeys(
  points: Point[],
  numericColumn: boolean,
): { kind: 'time' | 'number'; values: number[]; order: number[] } | undefined {
  if (points.length === 0) return undefined;
  let kind: 'time' | 'number' | undefined;
  const values: number[] = [];
  for (const { x } of points) {
    let key: number | undefined;
    let k: 'time' | 'number' = 'number';
    if (x instanceof Date) [key, k] = [x.getTime(), 'time'];
    else if (typeof x === 'number') key = x;
    else if (typeof x === 'bigint') key = Number(x);
    else if (typeof x === 'string' && numericColumn) key = Number(x);
    else if (typeof x === 'string' && ISO_DATE.test(x)) [key, k] = [Date.parse(x.includes('T') ? `${x}Z` : x), 'time'];
    if (key === undefined || !Number.isFinite(key) || (kind && kind !== k)) return undefined;
    kind = k;
    values.push(key);
  }
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  return { kind: kind!, values: order.map((i) => values[i]!), order };
}

/** Points placed by value (`sorted` ascending). Number ticks are round; time ticks sit on data points, spaced to fit their labels. */
function continuousAxis(sorted: number[], kind: 'time' | 'number', plot: Plot): Axis {
  const width = plot.right - plot.left;
  if (kind === 'number') {
    const scale = niceScale(sorted[0]!, sorted.at(-1)!, 8);
    const at = (v: number) => plot.left + ((v - scale.lo) / (scale.hi - scale.lo)) * width;
    const labels = tickLabels(scale);
    return { at: (i) => at(sorted[i]!), ticks: scale.ticks.map((v, i) => ({ at: at(v), label: labels[i]! })) };
  }
  const [min, max] = [sorted[0]!, sorted.at(-1)!];
  const at = (v: number) =>
    max === min ? (plot.left + plot.right) / 2 : plot.left + ((v - min) / (max - min)) * width;
  const format = timeFormat(sorted);
  const ticks: Axis['ticks'] = [];
  const spacing = format(min).length * CHAR_WIDTH + 16;
  for (const v of new Set(sorted)) {
    if (ticks.length === 0 || at(v) - ticks.at(-1)!.at >= spacing) ticks.push({ at: at(v), label: format(v) });
  }
  return { at: (i) => at(sorted[i]!), ticks };
}

/** As short as the data allows: dates alone when every point is at midnight UTC. */
function timeFormat(times: number[]): (t: number) => string {
  const iso = (t: number) => new Date(t).toISOString();
  if (times.every((t) => t % 86_400_000 === 0)) return (t) => iso(t).slice(0, 10);
  if (times.every((t) => t % 60_000 === 0)) return (t) => iso(t).slice(0, 16).replace('T', ' ');
  return (t) => iso(t).slice(0, 19).replace('T', ' ');
}

/** Points spaced evenly in query order, every k-th labelled so that labels do not overlap. */
function categoryAxis(points: Point[], plot: Plot): Axis {
  const band = (plot.right - plot.left) / Math.max(points.length, 1);
  const labels = points.map((p) => shorten(cellText(p.x)));
  const widest = labels.reduce((most, l) => Math.max(most, l.length), 0) * CHAR_WIDTH + 8;
  const every = Math.max(1, Math.ceil(widest / band));
  const at = (i: number) => plot.left + (i + 0.5) * band;
  return { at, ticks: labels.flatMap((label, i) => (i % every === 0 ? [{ at: at(i), label }] : [])) };
}

function lines(points: Point[], names: string[], xAxis: Axis, y: (v: number) => number): string[] {
  const out: string[] = [];
  names.forEach((name, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    // A null y breaks the line: a gap is shown as a gap, not bridged.
    const segments: string[][] = [[]];
    points.forEach((p, i) => {
      const v = p.ys[k];
      if (v === null || v === undefined) segments.push([]);
      else segments.at(-1)!.push(`${r(xAxis.at(i))},${r(y(v))}`);
    });
    out.push(`<g class="series" data-series="${escapeHtml(name)}" stroke="${color}" fill="${color}">`);
    for (const segment of segments) {
      if (segment.length > 1)
        out.push(`<polyline points="${segment.join(' ')}" fill="none" stroke-width="2" stroke-linejoin="round"/>`);
      else if (segment.length === 1 && points.length > MAX_MARKERS) out.push(circle(segment[0]!, 2));
    }
    if (points.length <= MAX_MARKERS) {
      points.forEach((p, i) => {
        const v = p.ys[k];
        if (v !== null && v !== undefined)
          out.push(circle(`${r(xAxis.at(i))},${r(y(v))}`, 3, `${name} at ${cellText(p.x)}: ${v}`));
      });
    }
    out.push('</g>');
  });
  return out;
}

function circle(point: string, radius: number, tooltip?: string): string {
  const [cx, cy] = point.split(',');
  return `<circle cx="${cx}" cy="${cy}" r="${radius}">${tooltip ? `<title>${escapeHtml(tooltip)}</title>` : ''}</circle>`;
}

/** Grouped bars, one group per point and one bar per series, from the zero line. */
function bars(points: Point[], names: string[], plot: Plot, y: (v: number) => number, zero: number): string[] {
  const band = (plot.right - plot.left) / points.length;
  const width = (band * 0.8) / names.length;
  const tooltips = points.length * names.length <= MAX_TOOLTIPS;
  return names.flatMap((name, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    const rects = points.flatMap((p, i) => {
      const v = p.ys[k];
      if (v === null || v === undefined) return [];
      const top = Math.min(y(v), zero);
      const title = tooltips ? `<title>${escapeHtml(`${name} at ${cellText(p.x)}: ${v}`)}</title>` : '';
      return [
        `<rect x="${r(plot.left + i * band + band * 0.1 + k * width)}" y="${r(top)}" width="${r(width)}" height="${r(Math.abs(y(v) - zero))}">${title}</rect>`,
      ];
    });
    return [`<g class="series" data-series="${escapeHtml(name)}" fill="${color}">`, ...rects, '</g>'];
  });
}

/** A swatch and name per series from `top` down, wrapped to the plot's width. */
function legendItems(names: string[], plot: Plot, top: number): { svg: string[]; height: number } {
  const svg: string[] = ['<g class="legend">'];
  let [x, row] = [plot.left, 0];
  names.forEach((name, k) => {
    const label = shorten(name);
    const width = 12 + 6 + label.length * CHAR_WIDTH + 20;
    if (x > plot.left && x + width > plot.right) [x, row] = [plot.left, row + 1];
    const y = top + row * 20;
    svg.push(
      `<rect x="${r(x)}" y="${y}" width="12" height="12" fill="${PALETTE[k % PALETTE.length]}"/><text x="${r(x + 18)}" y="${y + 10}" fill="#1f2937">${escapeHtml(label)}</text>`,
    );
    x += width;
  });
  svg.push('</g>');
  return { svg, height: (row + 1) * 20 + 8 };
}

/** Round ticks (steps of 1, 2 or 5 times a power of ten) that cover [lo, hi]. */
export function niceScale(
  lo: number,
  hi: number,
  target = 5,
): { lo: number; hi: number; ticks: number[]; decimals: number } {
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) / 10;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9))!;
  const decimals = Math.min(20, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const count = Math.round((end - start) / step);
  const ticks = Array.from({ length: count + 1 }, (_, i) => Number((start + i * step).toFixed(decimals)));
  return { lo: ticks[0]!, hi: ticks.at(-1)!, ticks, decimals };
}

/** Tick labels, '2.5M' for large numbers unless that would make two labels the same. */
function tickLabels(scale: { ticks: number[]; decimals: number }): string[] {
  const full = scale.ticks.map((v) =>
    new Intl.NumberFormat('en-US', { maximumFractionDigits: scale.decimals }).format(v),
  );
  if (Math.max(...scale.ticks.map(Math.abs)) < 1e6) return full;
  const compact = scale.ticks.map((v) =>
    new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 }).format(v),
  );
  return new Set(compact).size === compact.length ? compact : full;
}

/** Where a label centred on `at` stays inside the chart: the first and last ticks' labels would stick out. */
function within(at: number, label: string): number {
  const half = (label.length * CHAR_WIDTH) / 2 + 2;
  return Math.min(Math.max(at, half), WIDTH - half);
}

function shorten(label: string): string {
  const line = label.replace(/\s+/g, ' ');
  return line.length > MAX_LABEL_CHARS ? `${line.slice(0, MAX_LABEL_CHARS - 1)}…` : line;
}

/** Coordinates to a tenth of a pixel: enough for the eye, and a large chart stays small. */
function r(n: number): number {
  return Math.round(n * 10) / 10;
}
