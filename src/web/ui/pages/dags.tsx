/**
 * The DAG list (/) and the DAG page (/ui/dags/:dagId: grid, graph, runs, backfills and
 * source tabs, details, trigger and pause), with their two actions (creating a backfill
 * is in backfills.tsx). Reading follows UPDRAFT_AUTH_READ
 * (readGate); actions need an operator (operateGate sends a browser without a session to
 * the login page). Live parts are elements with `data-live` fragment URLs, answered
 * without the layout when the query has `fragment=`.
 */
import { Hono, type Context } from 'hono';
import { actorOf } from '../../../auth/index.js';
import { getDag, lastScheduledInterval, scheduleSpecOf } from '../../../catalog/dags.js';
import { setPaused } from '../../../state/pause.js';
import type { Engine } from '../../../engine/engine.js';
import { nextDagRunInfo } from '../../../schedule/index.js';
import { triggerRun } from '../../../scheduler/runs.js';
import { parseDateInZone } from '../../../schedule/dates.js';
import { ScheduleError } from '../../../errors.js';
import { Layout } from '../layout.js';
import type { BackfillForm } from './backfill-views.js';
import { DagDetails, DagPageView, loadDagPage, type TriggerForm, type View } from './dag-page.js';
import { DagRows, filterQuery, importErrorCount, listDagsForPage, listFilters } from './dag-list.js';
import { enc, ErrorPage, operateGate, pageErrors, pageOf, readGate, refusedForm } from './kit.js';
import { safeNext } from './login.js';

const VIEWS: View[] = ['grid', 'graph', 'source', 'runs', 'backfills'];

/** The DAG page an action's path belongs to: /ui/dags/x/pause -> /ui/dags/x. */
const dagPageOf = (path: string) => path.replace(/\/(pause|trigger)$/, '');

export function dagPages(engine: Engine): Hono {
  const db = engine.database.db;
  const app = new Hono();
  app.onError(pageErrors(engine));

  app.get('/', readGate(engine), async (c) => {
    const filters = listFilters(c.req.query());
    const query = filterQuery(filters);
    const here = query ? `/?${query}` : '/';
    const page = pageOf(c);
    const [rows, errors] = await Promise.all([
      listDagsForPage(db, filters, new Date()),
      c.req.query('fragment') === 'list' ? 0 : importErrorCount(db),
    ]);
    if (c.req.query('fragment') === 'list') return c.html(<DagRows page={page} rows={rows} next={here} />);
    return c.html(
      <Layout title="DAGs" page={page}>
        {errors > 0 ? (
          <p class="banner">
            <a href="/ui/import-errors">
              {errors} DAG {errors === 1 ? 'file' : 'files'} failed to load
            </a>
          </p>
        ) : null}
        <form method="get" action="/" class="filters">
          <input type="search" name="search" placeholder="DAG id contains…" value={filters.search ?? ''} />
          {filters.tag ? <input type="hidden" name="tag" value={filters.tag} /> : null}
          <select name="paused" onchange="this.form.submit()">
            <option value="">all</option>
            <option value="false" selected={filters.paused === false}>
              active
            </option>
            <option value="true" selected={filters.paused === true}>
              paused
            </option>
          </select>
          <button type="submit">Filter</button>
          {filters.tag ? (
            <span>
              tag <span class="tag">{filters.tag}</span>{' '}
              <a href={`/?${filterQuery({ ...filters, tag: undefined })}`}>× clear</a>
            </span>
          ) : null}
          {query ? <a href="/">show all</a> : null}
        </form>
        <table class="dags">
          <thead>
            <tr>
              <th>DAG</th>
              <th>paused</th>
              <th>schedule</th>
              <th>owner</th>
              <th>tags</th>
              <th>last runs</th>
              <th>next run</th>
            </tr>
          </thead>
          <tbody data-live={`/?fragment=list${query ? `&${query}` : ''}`}>
            <DagRows page={page} rows={rows} next={here} />
          </tbody>
        </table>
      </Layout>,
    );
  });

  app.get('/ui/dags/:dagId', readGate(engine), async (c) => {
    const fragment = c.req.query('fragment');
    const requested = (
      fragment === 'grid' || fragment === 'graph' || fragment === 'backfills' || fragment === 'runs'
        ? fragment
        : c.req.query('view')
    ) as View | undefined;
    const view: View = requested && VIEWS.includes(requested) ? requested : 'grid';
    return renderDagPage(c, engine, view);
  });

  app.post('/ui/dags/:dagId/pause', operateGate(dagPageOf), async (c) => {
    const dagId = c.req.param('dagId');
    const body = await c.req.parseBody();
    if (body.paused !== 'true' && body.paused !== 'false') {
      return c.html(
        <ErrorPage c={c} title="Bad request">
          The form must send paused=true or paused=false.
        </ErrorPage>,
        400,
      );
    }
    await setPaused(db, dagId, body.paused === 'true', actorOf(c.get('user')!));
    return c.redirect(safeNext(body.next, `/ui/dags/${enc(dagId)}`), 303);
  });

  app.post('/ui/dags/:dagId/trigger', operateGate(dagPageOf), async (c) => {
    const dagId = c.req.param('dagId');
    const body = await c.req.parseBody();
    const form: TriggerForm = {
      conf: typeof body.conf === 'string' ? body.conf : '',
      logicalDate: typeof body.logical_date === 'string' ? body.logical_date.trim() : '',
    };
    const fail = (error: string, status: 400 | 409 = 400) =>
      renderDagPage(c, engine, 'grid', { trigger: { ...form, error } }, status);
    let conf: unknown = {};
    if (form.conf.trim()) {
      try {
        conf = JSON.parse(form.conf);
      } catch (error) {
        return fail(`conf is not valid JSON: ${(error as Error).message}`);
      }
    }
    if (typeof conf !== 'object' || conf === null || Array.isArray(conf))
      return fail('conf must be a JSON object, e.g. {"region": "eu"}');
    let logicalDate: Date | undefined;
    if (form.logicalDate) {
      // Without an offset, in the DAG's timezone: the rule of every date a user types.
      const { dag } = await getDag(db, dagId);
      try {
        logicalDate = parseDateInZone(form.logicalDate, dag.timezone);
      } catch (error) {
        if (error instanceof ScheduleError) return fail(`logical date: ${error.message}`);
        throw error;
      }
    }
    try {
      const run = await triggerRun(db, dagId, {
        conf: conf as Record<string, unknown>,
        logicalDate,
        actor: actorOf(c.get('user')!),
      });
      return c.redirect(`/ui/dags/${enc(dagId)}/runs/${enc(run.runId)}`, 303);
    } catch (error) {
      return refusedForm(error, fail);
    }
  });

  return app;
}

/** The DAG page (or, with `?fragment=details|grid|graph|runs|backfills`, just that live part), with a refused form's input and error. */
export async function renderDagPage(
  c: Context,
  engine: Engine,
  view: View,
  forms: { trigger?: TriggerForm; backfill?: BackfillForm } = {},
  status: 200 | 400 | 409 = 200,
) {
  const db = engine.database.db;
  const dagId = c.req.param('dagId')!;
  const { dag, serialized } = await getDag(db, dagId);
  const nextRun = dag.isActive
    ? nextDagRunInfo(scheduleSpecOf(serialized), await lastScheduledInterval(db, dag.id), new Date())
    : null;
  const page = pageOf(c);
  const fragment = c.req.query('fragment');
  if (fragment === 'details')
    return c.html(<DagDetails page={page} dag={dag} serialized={serialized} nextRun={nextRun} />, status);
  const graph = async () => (await engine.cache.get(dag.latestVersionId!)).graph;
  const data = await loadDagPage(db, { dag, serialized, graph }, view, c.req.query());
  const props = { page, dag, serialized, nextRun, view, data, ...forms };
  if (fragment === 'grid' || fragment === 'graph' || fragment === 'backfills' || fragment === 'runs')
    return c.html(<DagPageView {...props} fragmentOnly />, status);
  return c.html(<DagPageView {...props} />, status);
}
