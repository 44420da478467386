/** A query result as the report renderers take it, and how its values become text. */

export interface ReportColumn {
  name: string;
  /** A number type, right-aligned. Default: every non-null value is a JS number. */
  numeric?: boolean;
}

/** Columns in query order; rows as arrays, so that two columns of the same name both show. */
export interface ReportTable {
  columns: ReportColumn[];
  rows: unknown[][];
}

/** A value in a CSV, Markdown or HTML cell: null empty, dates ISO 8601, bytes as \x hex, JSON for arrays and objects. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (value instanceof Date) return isoDate(value);
  if (value instanceof Uint8Array) return hex(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A value in a JSON report: what JSON.stringify cannot carry faithfully (bigint, NaN, bytes) as text. */
export function jsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return hex(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

/** For text and attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function isNumericColumn(table: ReportTable, index: number): boolean {
  const declared = table.columns[index]?.numeric;
  if (declared !== undefined) return declared;
  let seen = false;
  for (const row of table.rows) {
    const value = row[index];
    if (value === null || value === undefined) continue;
    if (typeof value !== 'number' && typeof value !== 'bigint') return false;
    seen = true;
  }
  return seen;
}

function isoDate(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toISOString();
}

function hex(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}
