/**
 * Backfills: the list (/ui/backfills, ?dag=, ?state=, ?page=), one backfill
 * (/ui/backfills/:id: settings, progress, its dates a page at a time, each linked to its
 * run), the operator's pause, resume and cancel, and creating one from the DAG page's
 * backfills tab (POST /ui/dags/:dagId/backfills). The scheduler NOTIFYs when a backfill
 * queues runs or completes, so the `data-live` parts follow it without new plumbing.
 */
import { Hono, type Context } from 'hono';
import { actorOf } from '../../../auth/index.js';
import { createBackfill } from '../../../backfill/create.js';
import { findDagRow } from '../../../catalog/dags.js';
import { actionsFor, cancelBackfill, pauseBackfill, resumeBackfill } from '../../../backfill/manage.js';
import {
  backfillDates,
  backfillProgress,
  getBackfill,
  listBackfills,
  type BackfillDate,
  type BackfillInfo,
  type BackfillProgress,
  type BackfillState,
  type Reprocess,
} from '../../../backfill/read.js';
import type { Engine } from '../../../engine/engine.js';
import { NotFoundError, UpdraftError } from '../../../errors.js';
import { CsrfField, Layout, StateBadge, type PageContext } from '../layout.js';
import {
  BackfillRows,
  BackfillTableHead,
  backfillPath,
  doneOfTotal,
  ProgressBar,
  withProgress,
  type BackfillForm,
} from './backfill-views.js';
import { renderDagPage } from './dags.js';
import { canOperate, enc, operateGate, pageErrors, pageOf, prettyJson, readGate, refusedForm, Time } from './kit.js';
import { queryInt } from '../input.js';
import { int4Of, parseInt4 } from '../../../util/input.js';
import { runPath } from './runs.js';
import { BACKFILL_STATES, RUN_STATES } from '../../../state/vocabulary.js';

const LIST_PAGE = 25;
const DATES_PAGE = 50;

const ACTIONS = {
  pause: {
    change: pauseBackfill,
    question: 'Pause this backfill? No new date starts; running runs finish.',
    label: 'Pause',
  },
  resume: { change: resumeBackfill, question: 'Resume this backfill?', label: 'Resume' },
  cancel: {
    change: cancelBackfill,
    question: 'Cancel this backfill? Its unfinished runs are cancelled and running tries stopped.',
    label: 'Cancel',
  },
} as const;
type Action = keyof typeof ACTIONS;

/** The backfill of the path's :id; anything but a backfill's id is a 404 naming it. */
function idOf(c: Context): number {
  const raw = c.req.param('id') ?? '';
  const id = int4Of(raw, { min: 1 });
  if (id === undefined) throw new NotFoundError(`no backfill with id '${raw}'`);
  return id;
}

/** The query string of a page's links, leaving out empty values. */
function query(values: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(values))
    if (value !== undefined && value !== '' && value !== 1) q.set(key, String(value));
  const s = q.toString();
  return s ? `?${s}` : '';
}

interface DatesView {
  dates: BackfillDate[];
  total: number;
  page: number;
  pages: number;
  state: string | undefined;
}

interface BackfillView {
  info: BackfillInfo;
  /** The DAG's timezone, for the timezone selector. */
  timezone: string | undefined;
  progress: BackfillProgress;
  dates: DatesView;
}

export function backfillPages(engine: Engine): Hono {
  const db = engine.database.db;
  const app = new Hono();
  app.onError(pageErrors(engine));

  app.get('/ui/backfills', readGate(engine), async (c) => {
    const dag = c.req.query('dag')?.trim() || undefined;
    const state = (BACKFILL_STATES as readonly string[]).includes(c.req.query('state') ?? '')
      ? (c.req.query('state') as BackfillState)
      : undefined;
    const page = queryInt(c.req.query('page'), 'page', 1);
    const { backfills, total } = await listBackfills(db, {
      dagId: dag,
      states: state ? [state] : undefined,
      limit: LIST_PAGE,
      offset: (page - 1) * LIST_PAGE,
    });
    const rows = await withProgress(db, backfills);
    if (c.req.query('fragment') === 'list') return c.html(<BackfillRows rows={rows} showDag />);
    const pages = Math.max(1, Math.ceil(total / LIST_PAGE));
    const link = (n: number) => `/ui/backfills${query({ dag, state, page: n })}`;
    return c.html(
      <Layout title="Backfills" page={pageOf(c)}>
        <form method="get" action="/ui/backfills" class="filters">
          <label>
            DAG <input name="dag" value={dag ?? ''} />
          </label>
          <select name="state" onchange="this.form.submit()">
            <option value="">every state</option>
            {BACKFILL_STATES.map((s) => (
              <option value={s} selected={s === state}>
                {s}
              </option>
            ))}
          </select>
          <button type="submit">Filter</button>
        </form>
        <p class="muted">Create a backfill from its DAG's page, tab Backfills.</p>
        <table class="backfills">
          <BackfillTableHead showDag />
          <tbody data-live={`/ui/backfills${query({ fragment: 'list', dag, state, page })}`}>
            <BackfillRows rows={rows} showDag />
          </tbody>
        </table>
        <p class="pager">
          {page > 1 ? <a href={link(page - 1)}>‹ newer</a> : null} page {page} of {pages} ({total} backfills){' '}
          {page < pages ? <a href={link(page + 1)}>older ›</a> : null}
        </p>
      </Layout>,
    );
  });

  async function load(c: Context, id: number): Promise<BackfillView> {
    const info = await getBackfill(db, id);
    const page = queryInt(c.req.query('page'), 'page', 1);
    const state = (RUN_STATES as readonly string[]).includes(c.req.query('state') ?? '')
      ? c.req.query('state')
      : undefined;
    const [progress, { dates, total }, dag] = await Promise.all([
      backfillProgress(db, id),
      backfillDates(db, id, { limit: DATES_PAGE, offset: (page - 1) * DATES_PAGE, state }),
      findDagRow(db, info.dagId),
    ]);
    return {
      info,
      timezone: dag?.timezone,
      progress,
      dates: { dates, total, page, pages: Math.max(1, Math.ceil(total / DATES_PAGE)), state },
    };
  }

  app.get('/ui/backfills/:id', readGate(engine), async (c) => {
    const view = await load(c, idOf(c));
    const fragment = c.req.query('fragment');
    if (fragment === 'summary') return c.html(<Summary page={pageOf(c)} view={view} />);
    if (fragment === 'dates') return c.html(<DatesTable view={view} />);
    return c.html(<BackfillPage page={pageOf(c)} view={view} />);
  });

  const backfillPageOf = (path: string) => path.replace(/\/(pause|resume|cancel)$/, '');
  for (const action of Object.keys(ACTIONS) as Action[]) {
    app.post(`/ui/backfills/:id/${action}`, operateGate(backfillPageOf), async (c) => {
      const id = idOf(c);
      try {
        await ACTIONS[action].change(db, id, actorOf(c.get('user')!));
      } catch (error) {
        // The state refuses it (a finished backfill): said on the page.
        if (!(error instanceof UpdraftError) || error instanceof NotFoundError) throw error;
        const view = await load(c, id);
        return c.html(
          <BackfillPage page={{ ...pageOf(c), path: backfillPath(id) }} view={view} error={error.message} />,
          409,
        );
      }
      return c.redirect(backfillPath(id), 303);
    });
  }

  app.post(
    '/ui/dags/:dagId/backfills',
    operateGate((path) => `${path.replace(/\/backfills$/, '')}?view=backfills`),
    async (c) => {
      const dagId = c.req.param('dagId');
      const body = await c.req.parseBody();
      const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
      const form: BackfillForm = {
        from: text('from').trim(),
        to: text('to').trim(),
        reprocess: text('reprocess') || 'none',
        maxActiveRuns: text('max_active_runs').trim(),
        backwards: text('backwards') !== '',
        conf: text('conf'),
      };
      const fail = (error: string, status: 400 | 409 = 400) =>
        renderDagPage(c, engine, 'backfills', { backfill: { ...form, error } }, status);
      let conf: unknown;
      if (form.conf.trim()) {
        try {
          conf = JSON.parse(form.conf);
        } catch (error) {
          return fail(`conf is not valid JSON: ${(error as Error).message}`);
        }
        if (typeof conf !== 'object' || conf === null || Array.isArray(conf))
          return fail('conf must be a JSON object, e.g. {"region": "eu"}');
      }
      try {
        const created = await createBackfill(
          db,
          {
            dagId,
            from: form.from,
            to: form.to,
            reprocess: form.reprocess as Reprocess,
            maxActiveRuns: form.maxActiveRuns
              ? parseInt4(form.maxActiveRuns, 'max_active_runs', { min: 1, name: 'max active runs' })
              : undefined,
            backwards: form.backwards,
            conf: conf as Record<string, unknown> | undefined,
          },
          actorOf(c.get('user')!),
        );
        return c.redirect(backfillPath(created.id), 303);
      } catch (error) {
        return refusedForm(error, fail);
      }
    },
  );

  return app;
}

function BackfillPage({ page, view, error }: { page: PageContext; view: BackfillView; error?: string }) {
  const { info } = view;
  const base = backfillPath(info.id);
  const d = view.dates;
  return (
    <Layout title={`Backfill #${info.id} of ${info.dagId}`} page={page} dagTimezone={view.timezone}>
      <p class="crumbs">
        <a href="/ui/backfills">Backfills</a> / <a href={`/ui/dags/${enc(info.dagId)}?view=backfills`}>{info.dagId}</a>{' '}
        / #{info.id}
      </p>
      {error ? <p class="banner">{error}</p> : null}
      <div class="bf-summary" data-live={`${base}?fragment=summary`}>
        <Summary page={page} view={view} />
      </div>
      <h2>Settings</h2>
      <table class="details">
        <tbody>
          <tr>
            <th>DAG</th>
            <td>
              <a href={`/ui/dags/${enc(info.dagId)}`}>{info.dagId}</a>
            </td>
          </tr>
          <tr>
            <th>Logical dates</th>
            <td>
              <Time at={info.from} /> – <Time at={info.to} />
            </td>
          </tr>
          <tr>
            <th>Order</th>
            <td>{info.backwards ? 'newest date first' : 'oldest date first'}</td>
          </tr>
          <tr>
            <th>Reprocess</th>
            <td>{info.reprocess}</td>
          </tr>
          <tr>
            <th>Max active runs</th>
            <td>{info.maxActiveRuns}</td>
          </tr>
          <tr>
            <th>Conf</th>
            <td>
              <pre class="conf">{prettyJson(info.conf)}</pre>
            </td>
          </tr>
          <tr>
            <th>Created</th>
            <td>
              <Time at={info.createdAt} /> by {info.createdBy}
            </td>
          </tr>
        </tbody>
      </table>
      <h2>Dates</h2>
      <form method="get" action={base} class="filters">
        <label>
          run state{' '}
          <select name="state" onchange="this.form.submit()">
            <option value="">any</option>
            {RUN_STATES.map((s) => (
              <option value={s} selected={s === d.state}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <noscript>
          <button type="submit">Show</button>
        </noscript>
      </form>
      <div data-live={`${base}${query({ fragment: 'dates', state: d.state, page: d.page })}`}>
        <DatesTable view={view} />
      </div>
    </Layout>
  );
}

/** State, progress, counts and the actions: the part that changes while the backfill runs. */
function Summary({ page, view }: { page: PageContext; view: BackfillView }) {
  const { info, progress: p } = view;
  const base = backfillPath(info.id);
  const counts: [string, number, string][] = [
    ['pending', p.pending, 'dates not reached yet'],
    ['queued', p.queued, 'runs waiting to start'],
    ['running', p.running, 'runs running'],
    ['succeeded', p.succeeded, 'runs that succeeded'],
    ['failed', p.failed, 'runs that failed'],
    ['skipped', p.skipped, 'dates left alone: a run existed'],
    ['running tasks', p.runningTasks, 'task instances of its runs queued or running'],
  ];
  return (
    <>
      <p class="bf-state">
        <StateBadge state={info.state} /> <strong class="bf-done">{doneOfTotal(p)}</strong> dates done
        {p.planDone ? null : <span class="muted"> (still planning: more dates to come)</span>}
        {info.completedAt ? (
          <span class="muted">
            {' '}
            · {info.state} <Time at={info.completedAt} />
          </span>
        ) : null}
      </p>
      <ProgressBar progress={p} />
      <table class="bf-counts">
        <tr>
          {counts.map(([label, , title]) => (
            <th title={title}>{label}</th>
          ))}
        </tr>
        <tr>
          {counts.map(([label, n]) => (
            <td data-count={label}>{n}</td>
          ))}
        </tr>
      </table>
      {canOperate(page) && actionsFor(info.state).length > 0 ? (
        <p class="actions">
          {actionsFor(info.state).map((action) => (
            <>
              <form
                method="post"
                action={`${base}/${action}`}
                class="inline"
                onsubmit={`return confirm(${JSON.stringify(ACTIONS[action].question)})`}
              >
                <CsrfField page={page} />
                <button type="submit">{ACTIONS[action].label}</button>
              </form>{' '}
            </>
          ))}
        </p>
      ) : null}
    </>
  );
}

function DatesTable({ view }: { view: BackfillView }) {
  const { info, dates: d } = view;
  const link = (n: number) => `${backfillPath(info.id)}${query({ state: d.state, page: n })}`;
  if (d.total === 0) {
    return (
      <p class="muted">
        {d.state
          ? `No date has a run in state ${d.state}.`
          : info.planned === 0 && !info.planDone
            ? 'No date planned yet: a scheduler plans it shortly.'
            : 'No dates.'}
      </p>
    );
  }
  return (
    <>
      <table class="bf-dates">
        <thead>
          <tr>
            <th>#</th>
            <th>logical date</th>
            <th>outcome</th>
            <th>run</th>
            <th>run state</th>
          </tr>
        </thead>
        <tbody>
          {d.dates.map((date) => (
            <tr data-ordinal={date.ordinal}>
              <td>{date.ordinal + 1}</td>
              <td>
                {date.runId ? (
                  <a href={runPath(info.dagId, date.runId)}>
                    <Time at={date.logicalDate} />
                  </a>
                ) : (
                  <Time at={date.logicalDate} />
                )}
              </td>
              <td>
                {date.outcome ?? <span class="muted">pending</span>}
                {date.reason ? <span class="muted"> ({date.reason})</span> : null}
              </td>
              <td>
                {date.runId ? <a href={runPath(info.dagId, date.runId)}>{date.runId}</a> : <span class="muted">–</span>}
              </td>
              <td>{date.runState ? <StateBadge state={date.runState} /> : <span class="muted">–</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="pager">
        {d.page > 1 ? <a href={link(d.page - 1)}>‹ earlier</a> : null} page {d.page} of {d.pages} ({d.total} dates){' '}
        {d.page < d.pages ? <a href={link(d.page + 1)}>later ›</a> : null}
      </p>
    </>
  );
}
