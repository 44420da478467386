/** Reports kept by report tasks, as `updraft reports` reads them. */
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { dags, reports } from '../db/schema.js';
import { NotFoundError } from '../errors.js';

export interface ReportSummary {
  id: string;
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  format: string;
  title: string;
  rows: number;
  /** Size of the content in bytes (UTF-8). */
  bytes: number;
  createdAt: Date;
}

export interface Report extends ReportSummary {
  content: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const summary = {
  id: reports.id,
  dagId: reports.dagId,
  runId: reports.runId,
  taskId: reports.taskId,
  tryNumber: reports.tryNumber,
  format: reports.format,
  title: reports.title,
  rows: reports.rows,
  bytes: sql<number>`octet_length(${reports.content})`.mapWith(Number),
  createdAt: reports.createdAt,
};

/**
 * Reports newest first, without their content, at most `limit`; `more` tells whether
 * older ones were left out. An unknown `dagId` is a NotFoundError rather than an empty list.
 */
export async function listReports(
  db: Db,
  options: { dagId?: string; runId?: string; limit: number },
): Promise<{ reports: ReportSummary[]; more: boolean }> {
  const rows = await db
    .select(summary)
    .from(reports)
    .where(
      and(
        options.dagId === undefined ? undefined : eq(reports.dagId, options.dagId),
        options.runId === undefined ? undefined : eq(reports.runId, options.runId),
      ),
    )
    .orderBy(desc(reports.createdAt), desc(reports.id))
    .limit(options.limit + 1);
  if (rows.length === 0 && options.dagId !== undefined) {
    const [dag] = await db.select({ id: dags.id }).from(dags).where(eq(dags.dagId, options.dagId));
    if (!dag) throw new NotFoundError(`no DAG with id '${options.dagId}' (see 'updraft dags list')`);
  }
  return { reports: rows.slice(0, options.limit), more: rows.length > options.limit };
}

/** One report with its content; NotFoundError names the id (a malformed one too, before it reaches SQL). */
export async function getReport(db: Db, id: string): Promise<Report> {
  const hint = "see 'updraft reports list'";
  if (!UUID.test(id))
    throw new NotFoundError(
      `no report '${id}': report ids are UUIDs like 0b9d2c4e-5f1a-4c3b-9e7d-2a6f8b1c0d3e (${hint})`,
    );
  const [row] = await db
    .select({ ...summary, content: reports.content })
    .from(reports)
    .where(eq(reports.id, id));
  if (!row) throw new NotFoundError(`no report '${id}' (${hint})`);
  return row;
}
