/**
 * Pages outside any one DAG: import errors (/ui/import-errors), the audit log (/ui/audit,
 * newest first, ?page=, ?dag=, ?action=) and reports (/ui/reports, ?dag=; /ui/reports/:id,
 * an HTML report inside a sandboxed iframe, never inlined; /ui/reports/:id/download).
 */
import { and, asc, desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { getReport, listReports, type Report } from '../../../catalog/reports.js';
import { auditLog, importErrors } from '../../../db/schema.js';
import type { Engine } from '../../../engine/engine.js';
import { queryInt } from '../input.js';
import { Layout } from '../layout.js';
import { compactJson, enc, pageErrors, pageOf, readGate, Time } from './kit.js';

const AUDIT_PAGE = 50;
const REPORTS_SHOWN = 200;

const REPORT_TYPES: Record<string, { ext: string; type: string }> = {
  html: { ext: 'html', type: 'text/html; charset=utf-8' },
  csv: { ext: 'csv', type: 'text/csv; charset=utf-8' },
  json: { ext: 'json', type: 'application/json; charset=utf-8' },
  markdown: { ext: 'md', type: 'text/markdown; charset=utf-8' },
};

const runHref = (dagId: string, runId: string) => `/ui/dags/${enc(dagId)}/runs/${enc(runId)}`;

/** '<dag>_<run>_<task>_try<n>.<ext>', with only characters safe in any file system and header. */
export function reportFilename(report: Pick<Report, 'dagId' | 'runId' | 'taskId' | 'tryNumber' | 'format'>): string {
  const base = `${report.dagId}_${report.runId}_${report.taskId}_try${report.tryNumber}`.replace(
    /[^A-Za-z0-9._-]+/g,
    '-',
  );
  return `${base}.${REPORT_TYPES[report.format]?.ext ?? 'txt'}`;
}

function kb(bytes: number): string {
  return bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
      ? `${(bytes / 1024).toFixed(1)} KB`
      : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function miscPages(engine: Engine): Hono {
  const db = engine.database.db;
  const app = new Hono();
  app.onError(pageErrors(engine));
  app.use('/ui/import-errors', readGate(engine));
  app.use('/ui/audit', readGate(engine));
  app.use('/ui/reports', readGate(engine));
  app.use('/ui/reports/*', readGate(engine));

  app.get('/ui/import-errors', async (c) => {
    const rows = await db.select().from(importErrors).orderBy(asc(importErrors.file));
    return c.html(
      <Layout title="Import errors" page={pageOf(c)}>
        {rows.length === 0 ? (
          <p class="muted">Every DAG file imports cleanly.</p>
        ) : (
          <table class="import-errors">
            <thead>
              <tr>
                <th>File</th>
                <th>Where</th>
                <th>Message</th>
                <th>When</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td>
                    <code>{r.file}</code>
                  </td>
                  <td>{r.line === null ? '–' : `${r.line}:${r.column ?? 1}`}</td>
                  <td>
                    <pre class="error">{r.message}</pre>
                  </td>
                  <td>
                    <Time at={r.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Layout>,
    );
  });

  app.get('/ui/audit', async (c) => {
    const dag = c.req.query('dag') || undefined;
    const action = c.req.query('action') || undefined;
    const page = queryInt(c.req.query('page'), 'page', 1);
    const rows = await db
      .select()
      .from(auditLog)
      .where(
        and(
          dag === undefined ? undefined : eq(auditLog.dagId, dag),
          action === undefined ? undefined : eq(auditLog.action, action),
        ),
      )
      .orderBy(desc(auditLog.at), desc(auditLog.id))
      .limit(AUDIT_PAGE + 1)
      .offset((page - 1) * AUDIT_PAGE);
    const link = (n: number) => {
      const q = new URLSearchParams();
      if (dag) q.set('dag', dag);
      if (action) q.set('action', action);
      if (n > 1) q.set('page', String(n));
      const s = q.toString();
      return `/ui/audit${s ? `?${s}` : ''}`;
    };
    return c.html(
      <Layout title="Audit log" page={pageOf(c)}>
        <form method="get" action="/ui/audit" class="filters">
          <label>
            DAG <input name="dag" value={dag ?? ''} />
          </label>{' '}
          <label>
            Action <input name="action" value={action ?? ''} placeholder="task.clear" />
          </label>{' '}
          <button type="submit">Filter</button>
        </form>
        {rows.length === 0 ? (
          <p class="muted">No entries{dag || action ? ' match' : ''}.</p>
        ) : (
          <table class="audit">
            <thead>
              <tr>
                <th>When</th>
                <th>Actor</th>
                <th>Action</th>
                <th>DAG / run / task</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, AUDIT_PAGE).map((r) => (
                <tr>
                  <td>
                    <Time at={r.at} />
                  </td>
                  <td>{r.actor}</td>
                  <td>
                    <a href={`/ui/audit?action=${enc(r.action)}`}>{r.action}</a>
                  </td>
                  <td>
                    {r.dagId ? <a href={`/ui/dags/${enc(r.dagId)}`}>{r.dagId}</a> : '–'}
                    {r.dagId && r.runId ? (
                      <>
                        {' / '}
                        <a href={runHref(r.dagId, r.runId)}>{r.runId}</a>
                      </>
                    ) : null}
                    {r.dagId && r.runId && r.taskId ? (
                      <>
                        {' / '}
                        <a href={`${runHref(r.dagId, r.runId)}/tasks/${enc(r.taskId)}`}>{r.taskId}</a>
                      </>
                    ) : r.taskId ? (
                      ` / ${r.taskId}`
                    ) : null}
                  </td>
                  <td>
                    <code>{compactJson(r.details)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p class="pager">
          {page > 1 ? <a href={link(page - 1)}>← Newer</a> : null} <span class="muted">Page {page}</span>{' '}
          {rows.length > AUDIT_PAGE ? <a href={link(page + 1)}>Older →</a> : null}
        </p>
      </Layout>,
    );
  });

  app.get('/ui/reports', async (c) => {
    const dag = c.req.query('dag') || undefined;
    const { reports, more } = await listReports(db, { dagId: dag, limit: REPORTS_SHOWN });
    return c.html(
      <Layout title="Reports" page={pageOf(c)}>
        <form method="get" action="/ui/reports" class="filters">
          <label>
            DAG <input name="dag" value={dag ?? ''} />
          </label>{' '}
          <button type="submit">Filter</button>
        </form>
        {reports.length === 0 ? (
          <p class="muted">No reports yet.</p>
        ) : (
          <table class="reports">
            <thead>
              <tr>
                <th>Title</th>
                <th>DAG</th>
                <th>Run</th>
                <th>Task</th>
                <th>Format</th>
                <th>Rows</th>
                <th>Size</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {reports.map((r) => (
                <tr>
                  <td>
                    <a href={`/ui/reports/${r.id}`}>{r.title}</a>
                  </td>
                  <td>
                    <a href={`/ui/dags/${enc(r.dagId)}`}>{r.dagId}</a>
                  </td>
                  <td>
                    <a href={runHref(r.dagId, r.runId)}>{r.runId}</a>
                  </td>
                  <td>
                    <a href={`${runHref(r.dagId, r.runId)}/tasks/${enc(r.taskId)}?try=${r.tryNumber}`}>{r.taskId}</a>
                  </td>
                  <td>{r.format}</td>
                  <td>{r.rows}</td>
                  <td>{kb(r.bytes)}</td>
                  <td>
                    <Time at={r.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {more ? (
          <p class="muted">
            Only the newest {REPORTS_SHOWN} are shown{dag ? '' : '; filter by DAG to see older ones'}.
          </p>
        ) : null}
      </Layout>,
    );
  });

  app.get('/ui/reports/:id', async (c) => {
    const r = await getReport(db, c.req.param('id'));
    return c.html(
      <Layout title={r.title} page={pageOf(c)}>
        <p class="crumbs">
          <a href="/ui/reports">Reports</a> / <a href={`/ui/dags/${enc(r.dagId)}`}>{r.dagId}</a> /{' '}
          <a href={runHref(r.dagId, r.runId)}>{r.runId}</a> /{' '}
          <a href={`${runHref(r.dagId, r.runId)}/tasks/${enc(r.taskId)}?try=${r.tryNumber}`}>{r.taskId}</a> (try{' '}
          {r.tryNumber})
        </p>
        <p>
          {r.format}, {r.rows} rows, {kb(r.bytes)}, created <Time at={r.createdAt} /> ·{' '}
          <a href={`/ui/reports/${r.id}/download`}>Download</a>
        </p>
        {r.format === 'html' ? (
          // Its own document, with no scripts, forms or same-origin access: a report's HTML never runs as this page.
          <iframe class="report" sandbox="" srcdoc={r.content} title={r.title}></iframe>
        ) : (
          <pre class="report">{r.content}</pre>
        )}
      </Layout>,
    );
  });

  app.get('/ui/reports/:id/download', async (c) => {
    const r = await getReport(db, c.req.param('id'));
    const type = REPORT_TYPES[r.format]?.type ?? 'text/plain; charset=utf-8';
    return c.body(r.content, 200, {
      'Content-Type': type,
      'Content-Disposition': `attachment; filename="${reportFilename(r)}"`,
      'X-Content-Type-Options': 'nosniff',
      // Opened rather than saved, an HTML report still runs with no access to this site.
      'Content-Security-Policy': 'sandbox',
    });
  });

  return app;
}
