import { z } from 'zod';
import { columnField, columnsField, connField } from './fields.js';
import { oneStatementField, type StatementInput, type StatementsSpec } from './statement.js';

export const REPORT_FORMATS = ['csv', 'json', 'markdown', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Rows a report renders at most unless `maxRows` says otherwise. */
export const DEFAULT_MAX_ROWS = 10_000;

/** `t.report(id, config)`: runs a query and renders its rows; the report is kept per DAG / run / task. */
export interface ReportConfig {
  conn: string;
  /** The query: SQL text, { text, values }, or a function of the task's context returning one. */
  query: StatementsSpec<StatementInput>;
  format: ReportFormat;
  /** Shown at the top of Markdown and HTML reports. Default: the task id. */
  title?: string;
  /** HTML only: an inline SVG chart: `x` the column along the axis, `y` one or more numeric columns, `type` 'line' (default) or 'bar'. */
  chart?: { x: string; y: string[]; type?: 'line' | 'bar' };
  /** Rows rendered at most (default 10,000); more fails the task rather than cut a report silently. */
  maxRows?: number;
}

/** A report task's result (its XCom); the content itself is stored as the report. */
export interface ReportResult {
  format: ReportFormat;
  title: string;
  rows: number;
  bytes: number;
}

export const reportSchema = z
  .strictObject({
    conn: connField,
    query: oneStatementField,
    format: z.enum(REPORT_FORMATS),
    title: z.string().trim().min(1, { message: 'is empty' }).optional(),
    chart: z.strictObject({ x: columnField, y: columnsField, type: z.enum(['line', 'bar']).optional() }).optional(),
    maxRows: z.number().int().min(1).max(1_000_000).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.chart && c.format !== 'html')
      ctx.addIssue({
        code: 'custom',
        path: ['chart'],
        message: "charts are drawn in HTML reports only (format: 'html')",
      });
    if (c.chart && new Set(c.chart.y).size < c.chart.y.length)
      ctx.addIssue({ code: 'custom', path: ['chart', 'y'], message: 'names a column twice' });
  }) as unknown as z.ZodType<ReportConfig>;
