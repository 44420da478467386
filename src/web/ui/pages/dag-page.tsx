/**
 * The DAG page: details, the trigger and pause actions, and one of five tabs (grid, graph,
 * runs, backfills, source). `loadDagPage` reads what the tab needs; `DagPageView` renders the page,
 * or only the tab's live fragment.
 */
import { triggerOf } from '../../../events/read.js';
import { and, desc, eq, sql } from 'drizzle-orm';
import { listBackfills } from '../../../backfill/read.js';
import type { Db } from '../../../db/client.js';
import { dagRuns, dagVersions, type DagRow, type DagRunRow } from '../../../db/schema.js';
import type { TaskGraph } from '../../../dag/graph.js';
import type { SerializedDag } from '../../../dag/serialize.js';
import { NotFoundError } from '../../../errors.js';
import type { DagRunInfo } from '../../../schedule/index.js';
import { queryInt } from '../input.js';
import { int4Of } from '../../../util/input.js';
import { CsrfField, Layout, StateBadge, type PageContext } from '../layout.js';
import {
  BackfillCreateForm,
  BackfillRows,
  BackfillTableHead,
  withProgress,
  type BackfillForm,
  type BackfillRow,
} from './backfill-views.js';
import { DagGraph } from './dag-graph.js';
import { DagGrid, loadGrid, recentRuns, taskCells, type GridData, type GridRun, type TaskCells } from './dag-grid.js';
import { PauseToggle } from './dag-list.js';
import { DateRule, enc, prettyJson, span, Time } from './kit.js';
import { DagOutlets, ScheduleText } from './datasets.js';
import { formatElapsed } from '../../../util/duration.js';

export type View = 'grid' | 'graph' | 'source' | 'runs' | 'backfills';

/** What the trigger form sent, and why it was refused. */
export interface TriggerForm {
  conf: string;
  logicalDate: string;
  error?: string;
}

export type TabData =
  | { view: 'grid'; runs: number; grid: GridData; graph: TaskGraph }
  | { view: 'graph'; choices: GridRun[]; chosen?: { runId: string; states: TaskCells }; graph: TaskGraph }
  | { view: 'source'; source: string; version: number }
  | { view: 'runs'; rows: DagRunRow[]; total: number; page: number; pages: number }
  | { view: 'backfills'; rows: BackfillRow[]; total: number; page: number; pages: number };

export const GRID_RUNS = 25;
export const MAX_GRID_RUNS = 100;
export const RUNS_PAGE = 25;
export const BACKFILLS_PAGE = 25;

/** A count the grid's links set (`?runs=`), kept within min to max; `fallback` when it is not an integer. */
function intIn(value: string | undefined, min: number, max: number, fallback: number): number {
  const n = value === undefined ? undefined : int4Of(value);
  return n === undefined ? fallback : Math.min(max, Math.max(min, n));
}

/**
 * What the tab `view` shows. `graph` gives the latest version's task graph (the grid's
 * rows and the graph's layers read it), from the DAG cache: built once per version.
 */
export async function loadDagPage(
  db: Db,
  { dag, graph: graphOf }: { dag: DagRow; serialized: SerializedDag; graph: () => Promise<TaskGraph> },
  view: View,
  query: Record<string, string>,
): Promise<TabData> {
  switch (view) {
    case 'grid': {
      const runs = intIn(query.runs, 1, MAX_GRID_RUNS, GRID_RUNS);
      return { view, runs, grid: await loadGrid(db, dag.id, runs), graph: await graphOf() };
    }
    case 'graph': {
      const graph = await graphOf();
      const choices = await recentRuns(db, dag.id, GRID_RUNS);
      let chosen = query.run ? choices.find((r) => r.runId === query.run) : choices[0];
      if (query.run && !chosen) {
        const [row] = await db
          .select({
            id: dagRuns.id,
            runId: dagRuns.runId,
            state: dagRuns.state,
            runType: dagRuns.runType,
            logicalDate: dagRuns.logicalDate,
          })
          .from(dagRuns)
          .where(and(eq(dagRuns.dagId, dag.id), eq(dagRuns.runId, query.run)));
        if (!row) throw new NotFoundError(`DAG '${dag.dagId}' has no run '${query.run}'`);
        chosen = row;
        choices.push(row);
      }
      if (!chosen) return { view, choices, graph };
      const states = (await taskCells(db, [chosen.id])).get(chosen.id)!;
      return { view, choices, chosen: { runId: chosen.runId, states }, graph };
    }
    case 'source': {
      const [row] = await db
        .select({ source: dagVersions.source, version: dagVersions.version })
        .from(dagVersions)
        .where(eq(dagVersions.id, dag.latestVersionId!));
      return { view, source: row?.source ?? '', version: row?.version ?? 0 };
    }
    case 'runs': {
      const page = queryInt(query.page, 'page', 1);
      const rows = await db
        .select({ run: dagRuns, total: sql<number>`count(*) over ()`.mapWith(Number) })
        .from(dagRuns)
        .where(eq(dagRuns.dagId, dag.id))
        .orderBy(desc(dagRuns.logicalDate))
        .limit(RUNS_PAGE)
        .offset((page - 1) * RUNS_PAGE);
      let total = rows[0]?.total ?? 0;
      if (rows.length === 0 && page > 1) {
        const [counted] = await db
          .select({ n: sql<number>`count(*)`.mapWith(Number) })
          .from(dagRuns)
          .where(eq(dagRuns.dagId, dag.id));
        total = counted?.n ?? 0;
      }
      return { view, rows: rows.map((r) => r.run), total, page, pages: Math.max(1, Math.ceil(total / RUNS_PAGE)) };
    }
    case 'backfills': {
      const page = queryInt(query.page, 'page', 1);
      const { backfills, total } = await listBackfills(db, {
        dagId: dag.dagId,
        limit: BACKFILLS_PAGE,
        offset: (page - 1) * BACKFILLS_PAGE,
      });
      return {
        view,
        rows: await withProgress(db, backfills),
        total,
        page,
        pages: Math.max(1, Math.ceil(total / BACKFILLS_PAGE)),
      };
    }
  }
}

export interface DagPageProps {
  page: PageContext;
  dag: DagRow;
  serialized: SerializedDag;
  nextRun: DagRunInfo | null;
  view: View;
  data: TabData;
  trigger?: TriggerForm;
  /** What the backfill form sent, when it was refused. */
  backfill?: BackfillForm;
  /** Only the tab's live part (the `?fragment=` answer). */
  fragmentOnly?: boolean;
}

const canOperate = (page: PageContext) => page.user?.role === 'operator' || page.user?.role === 'admin';

/** The conf a trigger starts from: every param's default. */
export function defaultConf(serialized: SerializedDag): string {
  const conf = Object.fromEntries(
    Object.entries(serialized.params ?? {}).flatMap(([name, spec]) =>
      spec.default === undefined ? [] : [[name, spec.default]],
    ),
  );
  return prettyJson(conf);
}

export function DagPageView(props: DagPageProps) {
  const { page, dag, serialized, view, data } = props;
  const base = `/ui/dags/${enc(dag.dagId)}`;
  if (props.fragmentOnly) return <TabFragment dagId={dag.dagId} serialized={serialized} data={data} />;
  const tabs: [View, string][] = [
    ['grid', 'Grid'],
    ['graph', 'Graph'],
    ['runs', 'Runs'],
    ['backfills', 'Backfills'],
    ['source', 'Source'],
  ];
  return (
    <Layout title={`DAG ${dag.dagId}`} page={page} dagTimezone={dag.timezone}>
      {!dag.isActive ? (
        <p class="banner">No file in the DAGs folder defines this DAG any more; its history stays.</p>
      ) : null}
      {serialized.description ? <p>{serialized.description}</p> : null}
      <div class="dag-head">
        <div data-live={`${base}?fragment=details`}>
          <DagDetails {...props} />
        </div>
        <Actions {...props} />
      </div>
      <nav class="tabs">
        {tabs.map(([v, label]) => (
          <a href={v === 'grid' ? base : `${base}?view=${v}`} class={v === view ? 'current' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {data.view === 'backfills' ? (
        <BackfillCreateForm page={page} dagId={dag.dagId} timezone={dag.timezone} form={props.backfill} />
      ) : null}
      <Tab dagId={dag.dagId} serialized={serialized} data={data} />
    </Layout>
  );
}

/** The DAG's details (the `?fragment=details` answer, live: the pause switch and the next run follow changes). */
export function DagDetails({
  page,
  dag,
  serialized,
  nextRun,
}: Pick<DagPageProps, 'page' | 'dag' | 'serialized' | 'nextRun'>) {
  const events = triggerOf(serialized);
  return (
    <dl class="dag-details">
      <dt>schedule</dt>
      <dd>
        {dag.schedule || dag.datasetSchedule || !events ? (
          <ScheduleText dag={dag} manual="manual runs only" />
        ) : (
          <code>none</code>
        )}
      </dd>
      <dt>updates datasets</dt>
      <dd>
        <DagOutlets serialized={serialized} />
      </dd>
      {events ? (
        <>
          <dt>trigger</dt>
          <dd class="event-trigger">{events}</dd>
        </>
      ) : null}
      <dt>timezone</dt>
      <dd>{dag.timezone}</dd>
      <dt>next run</dt>
      <dd>
        {nextRun ? (
          <Time at={nextRun.logicalDate} />
        ) : dag.datasetSchedule ? (
          <span class="muted">when its datasets are updated</span>
        ) : (
          <span class="muted">–</span>
        )}
      </dd>
      <dt>owner</dt>
      <dd>{dag.owner ?? <span class="muted">–</span>}</dd>
      <dt>tags</dt>
      <dd>
        {dag.tags.length === 0 ? <span class="muted">–</span> : null}
        {dag.tags.map((tag) => (
          <a class="tag" href={`/?tag=${enc(tag)}`}>
            {tag}
          </a>
        ))}
      </dd>
      <dt>paused</dt>
      <dd>
        <PauseToggle page={page} dagId={dag.dagId} paused={dag.isPaused} next={`/ui/dags/${enc(dag.dagId)}`} />
      </dd>
      <dt>file</dt>
      <dd>
        <code>{dag.file}</code>
      </dd>
    </dl>
  );
}

function Actions({ page, dag, serialized, trigger }: DagPageProps) {
  if (!canOperate(page)) {
    return (
      <div class="dag-actions">
        <button type="button" disabled title="log in as an operator">
          Trigger
        </button>
      </div>
    );
  }
  const params = Object.entries(serialized.params ?? {});
  return (
    <div class="dag-actions">
      <details open={trigger !== undefined}>
        <summary>Trigger a run</summary>
        <form
          method="post"
          action={`/ui/dags/${enc(dag.dagId)}/trigger`}
          class="trigger"
          onsubmit={`return confirm(${JSON.stringify(`Trigger a run of ${dag.dagId}?`)})`}
        >
          <CsrfField page={page} />
          {trigger?.error ? <p class="banner trigger-error">{trigger.error}</p> : null}
          <label>
            conf (JSON)
            <textarea name="conf" rows={Math.min(16, Math.max(4, params.length + 3))} spellcheck={false}>
              {trigger ? trigger.conf : defaultConf(serialized)}
            </textarea>
          </label>
          <label>
            logical date{' '}
            <span class="muted">
              (empty: now; e.g. 2030-01-31T06:00 or 2030-01-31T06:00+01:00) <DateRule timezone={dag.timezone} />
            </span>
            <input name="logical_date" value={trigger?.logicalDate ?? ''} placeholder="now" />
          </label>
          {params.length > 0 ? (
            <table class="params">
              <tr>
                <th>param</th>
                <th>type</th>
                <th>default</th>
                <th>allowed</th>
                <th>description</th>
              </tr>
              {params.map(([name, spec]) => (
                <tr>
                  <td>
                    <code>{name}</code>
                  </td>
                  <td>{spec.type}</td>
                  <td>
                    {spec.default === undefined ? <em>required</em> : <code>{JSON.stringify(spec.default)}</code>}
                  </td>
                  <td>
                    {spec.enum ? spec.enum.map((v) => JSON.stringify(v)).join(', ') : <span class="muted">–</span>}
                  </td>
                  <td>{spec.description ?? ''}</td>
                </tr>
              ))}
            </table>
          ) : null}
          <button type="submit">Trigger</button>
        </form>
      </details>
    </div>
  );
}

/** A tab's body; the grid and the graph put their live part in a `data-live` element. */
function Tab({ dagId, serialized, data }: { dagId: string; serialized: SerializedDag; data: TabData }) {
  const base = `/ui/dags/${enc(dagId)}`;
  switch (data.view) {
    case 'grid':
      return (
        <>
          <p class="muted">
            The latest {data.runs} runs, newest right; also{' '}
            {[25, 50, 100]
              .filter((n) => n !== data.runs)
              .map((n, i) => (
                <>
                  {i > 0 ? ', ' : ''}
                  <a href={`${base}?runs=${n}`}>{n}</a>
                </>
              ))}
            .
          </p>
          <div data-live={`${base}?fragment=grid${data.runs === GRID_RUNS ? '' : `&runs=${data.runs}`}`}>
            <TabFragment dagId={dagId} serialized={serialized} data={data} />
          </div>
        </>
      );
    case 'graph':
      return (
        <>
          {data.choices.length > 0 ? (
            <form method="get" action={base} class="filters">
              <input type="hidden" name="view" value="graph" />
              <label>
                states of run{' '}
                <select name="run" onchange="this.form.submit()">
                  {data.choices.map((run) => (
                    <option value={run.runId} selected={run.runId === data.chosen?.runId}>
                      {run.runId} ({run.state})
                    </option>
                  ))}
                </select>
              </label>{' '}
              <noscript>
                <button type="submit">Show</button>
              </noscript>
            </form>
          ) : (
            <p class="muted">No runs yet: the graph shows no states.</p>
          )}
          <div
            data-live={`${base}?view=graph&fragment=graph${data.chosen && data.chosen.runId !== data.choices[0]?.runId ? `&run=${enc(data.chosen.runId)}` : ''}`}
          >
            <TabFragment dagId={dagId} serialized={serialized} data={data} />
          </div>
        </>
      );
    case 'source':
      return (
        <>
          <p class="muted">Version {data.version} of the DAG, as its file was when it was parsed.</p>
          <pre class="source">{data.source}</pre>
        </>
      );
    case 'runs':
      return (
        <div data-live={`${base}?view=runs&fragment=runs${data.page > 1 ? `&page=${data.page}` : ''}`}>
          <TabFragment dagId={dagId} serialized={serialized} data={data} />
        </div>
      );
    case 'backfills':
      return (
        <div data-live={`${base}?view=backfills&fragment=backfills${data.page > 1 ? `&page=${data.page}` : ''}`}>
          <TabFragment dagId={dagId} serialized={serialized} data={data} />
        </div>
      );
  }
}

/** The live part of the grid, graph, runs or backfills tab (what `?fragment=grid|graph|runs|backfills` answers). */
function TabFragment({ dagId, serialized, data }: { dagId: string; serialized: SerializedDag; data: TabData }) {
  if (data.view === 'grid') return <DagGrid dagId={dagId} dag={serialized} graph={data.graph} data={data.grid} />;
  if (data.view === 'graph') return <DagGraph dagId={dagId} dag={serialized} graph={data.graph} run={data.chosen} />;
  if (data.view === 'backfills') return <BackfillsTable dagId={dagId} data={data} />;
  if (data.view === 'runs') return <RunsTable dagId={dagId} data={data} />;
  return null;
}

function BackfillsTable({ dagId, data }: { dagId: string; data: Extract<TabData, { view: 'backfills' }> }) {
  const base = `/ui/dags/${enc(dagId)}?view=backfills`;
  return (
    <>
      <table class="backfills">
        <BackfillTableHead showDag={false} />
        <tbody>
          <BackfillRows rows={data.rows} showDag={false} />
        </tbody>
      </table>
      {data.total > BACKFILLS_PAGE ? (
        <p class="pager">
          {data.page > 1 ? <a href={`${base}&page=${data.page - 1}`}>‹ newer</a> : null} page {data.page} of{' '}
          {data.pages} ({data.total} backfills){' '}
          {data.page < data.pages ? <a href={`${base}&page=${data.page + 1}`}>older ›</a> : null}
        </p>
      ) : null}
    </>
  );
}

function RunsTable({ dagId, data }: { dagId: string; data: Extract<TabData, { view: 'runs' }> }) {
  const base = `/ui/dags/${enc(dagId)}`;
  const now = new Date();
  if (data.total === 0) return <p class="muted">No runs yet.</p>;
  return (
    <>
      <table class="runs">
        <thead>
          <tr>
            <th>run</th>
            <th>type</th>
            <th>state</th>
            <th>logical date</th>
            <th>data interval</th>
            <th>start</th>
            <th>end</th>
            <th>duration</th>
          </tr>
        </thead>
        <tbody>
          {data.rows.map((run) => (
            <tr>
              <td>
                <a href={`${base}/runs/${enc(run.runId)}`}>{run.runId}</a>
              </td>
              <td>{run.runType}</td>
              <td>
                <StateBadge state={run.state} />
              </td>
              <td>
                <Time at={run.logicalDate} />
              </td>
              <td>
                <Time at={run.intervalStart} /> – <Time at={run.intervalEnd} />
              </td>
              <td>
                <Time at={run.startedAt} />
              </td>
              <td>
                <Time at={run.endedAt} />
              </td>
              <td>{formatElapsed(span(run.startedAt, run.endedAt, now))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="pager">
        {data.page > 1 ? <a href={`${base}?view=runs&page=${data.page - 1}`}>‹ newer</a> : null} page {data.page} of{' '}
        {data.pages} ({data.total} runs){' '}
        {data.page < data.pages ? <a href={`${base}?view=runs&page=${data.page + 1}`}>older ›</a> : null}
      </p>
    </>
  );
}
