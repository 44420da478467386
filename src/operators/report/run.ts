/** The report operator: one query on a named connection, rendered as CSV, JSON, Markdown or HTML and kept with the try. */
import { fieldError, withClient } from '../pg.js';
import { resolveStatements } from '../statement.js';
import { OperatorError, type Operator, type OperatorContext } from '../types.js';
import { DEFAULT_MAX_ROWS, reportSchema, type ReportConfig, type ReportResult } from '../../dag/operators/report.js';
import { fetchAtMost } from './query.js';
import { renderReport } from './render.js';

const MAX_REPORT_BYTES = 64 * 2 ** 20;

export const reportOperator: Operator<ReportConfig> = {
  name: 'report',
  schema: reportSchema,
  run: runReport,
};

async function runReport(config: ReportConfig, ctx: OperatorContext): Promise<ReportResult> {
  const statements = await resolveStatements(config.query, ctx.task, 'report', 'query');
  if (statements.length > 1)
    throw new OperatorError(
      'report',
      'query',
      `a report runs one query, but the function returned ${statements.length} statements`,
    );
  const statement = statements[0]!;
  const pool = await ctx.connection(config.conn, 'conn');
  const maxRows = config.maxRows ?? DEFAULT_MAX_ROWS;

  // One row more than allowed tells a result that fits from one that would be cut.
  const fetched = await withClient(
    pool,
    ctx.task.signal,
    { operator: 'report', field: 'conn', conn: config.conn },
    async (client) => {
      try {
        return await fetchAtMost(client, statement, maxRows + 1);
      } catch (error) {
        throw fieldError('report', 'query', error);
      }
    },
  );
  if (fetched.rows.length > maxRows) {
    throw new OperatorError(
      'report',
      'maxRows',
      `the query returns more than ${maxRows.toLocaleString('en-US')} rows; narrow it (a where clause, an aggregate) or raise maxRows (at most 1,000,000)`,
    );
  }
  ctx.task.log.info(`query: ${fetched.rows.length} rows, ${fetched.columns.length} columns`);

  const title = config.title ?? ctx.task.taskId;
  const content = renderReport(config.format, fetched, { title, chart: config.chart });
  const rows = fetched.rows.length;
  const bytes = Buffer.byteLength(content, 'utf8');
  // Reports are stored in one row with the task's result; a bigger one would fail that commit.
  if (bytes > MAX_REPORT_BYTES) {
    throw new OperatorError(
      'report',
      'maxRows',
      `the rendered report is ${(bytes / 2 ** 20).toFixed(0)} MiB, above the ${MAX_REPORT_BYTES / 2 ** 20} MiB a report may hold; narrow the query or lower maxRows`,
    );
  }
  ctx.saveReport({ format: config.format, title, content, rows });
  ctx.task.log.info(`rendered ${config.format} report '${title}': ${rows} rows, ${bytes} bytes`);
  return { format: config.format, title, rows, bytes };
}
