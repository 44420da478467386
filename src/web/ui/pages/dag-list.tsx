/**
 * The DAG list (the UI's home page): one query for every DAG with its latest scheduled
 * interval (for the next run) and its last 10 runs' states, each through a probe of
 * dag_runs' (dag_id, logical_date) index, so the page costs the same with 10 or 10,000
 * runs per DAG. 100 DAGs x 1,000 runs on PostgreSQL (2 shared cores, in-process, one request
 * at a time): the query p50 7.7 ms, the whole page p50 13 ms, p99 58-90 ms (noisy machine);
 * bench/web.ts measures '/' over HTTP once the UI is mounted.
 */
import { describeEvents, type EventsSpec } from '../../../dag/events.js';
import { and, arrayContains, asc, count, desc, eq, ilike, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client.js';
import { dagRuns, dags, dagVersions, importErrors, type DagRow } from '../../../db/schema.js';
import { nextDagRunInfo, type DagRunInfo } from '../../../schedule/index.js';
import { containing } from '../../api/common.js';
import { CsrfField, type PageContext } from '../layout.js';
import { enc, fmtTime, Time } from './kit.js';
import { ScheduleText } from './datasets.js';

/** How many of each DAG's latest runs the list shows. */
export const LIST_RUNS = 10;

export interface ListFilters {
  tag?: string;
  search?: string;
  paused?: boolean;
}

export interface ListedDag {
  dag: DagRow;
  /** Oldest first. */
  recent: { runId: string; state: string; logicalDate: string }[];
  nextRun: DagRunInfo | null;
  /** The event trigger ("on NOTIFY app_db/new_orders"), or null. */
  events?: string | null;
}

export function listFilters(query: Record<string, string>): ListFilters {
  const filters: ListFilters = {};
  if (query.tag) filters.tag = query.tag;
  if (query.search?.trim()) filters.search = query.search.trim();
  if (query.paused === 'true' || query.paused === 'false') filters.paused = query.paused === 'true';
  return filters;
}

/** The filters as a query string ('tag=a&search=b'), for links and the live fragment. */
export function filterQuery(filters: ListFilters): string {
  const q = new URLSearchParams();
  if (filters.tag) q.set('tag', filters.tag);
  if (filters.search) q.set('search', filters.search);
  if (filters.paused !== undefined) q.set('paused', String(filters.paused));
  return q.toString();
}

export async function listDagsForPage(db: Db, filters: ListFilters, now: Date): Promise<ListedDag[]> {
  const last = db
    .select({ start: dagRuns.intervalStart, end: dagRuns.intervalEnd })
    .from(dagRuns)
    .where(and(eq(dagRuns.dagId, dags.id), eq(dagRuns.runType, 'scheduled')))
    .orderBy(desc(dagRuns.logicalDate))
    .limit(1)
    .as('last_scheduled');
  // json_agg of a LIMIT subquery: one index probe per DAG, still one round trip.
  const recent = sql<ListedDag['recent']>`(
    select coalesce(json_agg(json_build_object('runId', r.run_id, 'state', r.state, 'logicalDate', r.logical_date) order by r.logical_date), '[]'::json)
    from (select ${dagRuns.runId} as run_id, ${dagRuns.state} as state, ${dagRuns.logicalDate} as logical_date
          from ${dagRuns} where ${dagRuns.dagId} = ${dags.id} order by ${dagRuns.logicalDate} desc limit ${LIST_RUNS}) r
  )`;
  const rows = await db
    .select({
      dag: dags,
      startDate: sql<string | null>`${dagVersions.serialized}->>'startDate'`,
      endDate: sql<string | null>`${dagVersions.serialized}->>'endDate'`,
      catchup: sql<boolean>`coalesce((${dagVersions.serialized}->>'catchup')::boolean, false)`,
      events: sql<EventsSpec | string | null>`${dagVersions.serialized}->'events'`,
      lastStart: last.start,
      lastEnd: last.end,
      recent,
    })
    .from(dags)
    .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
    .leftJoinLateral(last, sql`true`)
    .where(
      and(
        eq(dags.isActive, true),
        filters.tag ? arrayContains(dags.tags, [filters.tag]) : undefined,
        filters.search ? ilike(dags.dagId, containing(filters.search)) : undefined,
        filters.paused === undefined ? undefined : eq(dags.isPaused, filters.paused),
      ),
    )
    .orderBy(asc(dags.dagId));
  return rows.map((row) => {
    const spec = {
      schedule: row.dag.schedule,
      timezone: row.dag.timezone,
      startDate: row.startDate ? new Date(row.startDate) : null,
      endDate: row.endDate ? new Date(row.endDate) : null,
      catchup: row.catchup,
    };
    const lastInterval = row.lastStart && row.lastEnd ? { start: row.lastStart, end: row.lastEnd } : null;
    const recentRuns =
      typeof row.recent === 'string' ? (JSON.parse(row.recent) as ListedDag['recent']) : (row.recent ?? []);
    const events = typeof row.events === 'string' ? (JSON.parse(row.events) as EventsSpec) : row.events;
    return {
      dag: row.dag,
      recent: recentRuns,
      nextRun: nextDagRunInfo(spec, lastInterval, now),
      events: events ? describeEvents(events) : null,
    };
  });
}

export async function importErrorCount(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(importErrors);
  return row?.n ?? 0;
}

/** The pause switch: a small confirmed POST form for operators, a disabled button for everyone else. */
export function PauseToggle({
  page,
  dagId,
  paused,
  next,
}: {
  page: PageContext;
  dagId: string;
  paused: boolean;
  next: string;
}) {
  const label = paused ? 'paused' : 'active';
  const canOperate = page.user?.role === 'operator' || page.user?.role === 'admin';
  if (!canOperate) {
    return (
      <button type="button" class={`toggle ${label}`} disabled title="log in as an operator">
        {label}
      </button>
    );
  }
  const question = `${paused ? 'Unpause' : 'Pause'} DAG ${dagId}?`;
  return (
    <form
      method="post"
      action={`/ui/dags/${enc(dagId)}/pause`}
      class="inline"
      onsubmit={`return confirm(${JSON.stringify(question)})`}
    >
      <CsrfField page={page} />
      <input type="hidden" name="paused" value={String(!paused)} />
      <input type="hidden" name="next" value={next} />
      <button
        type="submit"
        class={`toggle ${label}`}
        title={paused ? 'paused: click to unpause' : 'active: click to pause'}
      >
        {label}
      </button>
    </form>
  );
}

/** The table's rows: the live fragment `/?fragment=list&<filters>`. */
export function DagRows({ page, rows, next }: { page: PageContext; rows: ListedDag[]; next: string }) {
  if (rows.length === 0) {
    return (
      <tr>
        <td colspan={7} class="muted">
          No DAGs match.
        </td>
      </tr>
    );
  }
  return (
    <>
      {rows.map(({ dag, recent, nextRun, events }) => (
        <tr data-dag={dag.dagId} data-dag-tz={dag.timezone}>
          <td>
            <a href={`/ui/dags/${enc(dag.dagId)}`}>{dag.dagId}</a>
            {dag.description ? <div class="muted small">{dag.description}</div> : null}
          </td>
          <td>
            <PauseToggle page={page} dagId={dag.dagId} paused={dag.isPaused} next={next} />
          </td>
          <td>
            {dag.schedule || dag.datasetSchedule || !events ? <ScheduleText dag={dag} manual="manual" /> : null}
            {events ? <div class="muted small">{events}</div> : null}
          </td>
          <td>{dag.owner ?? <span class="muted">–</span>}</td>
          <td>
            {dag.tags.map((tag) => (
              <a class="tag" href={`/?tag=${enc(tag)}`}>
                {tag}
              </a>
            ))}
          </td>
          <td class="recent">
            {recent.map((run) => (
              <>
                {/* biome-ignore lint/a11y/useAnchorContent: a coloured square, named by its title */}
                <a
                  class={`sq s-${run.state}`}
                  href={`/ui/dags/${enc(dag.dagId)}/runs/${enc(run.runId)}`}
                  title={`${run.runId}: ${run.state}`}
                ></a>
              </>
            ))}
          </td>
          <td>
            {nextRun ? (
              <span data-times="" title={`due after ${fmtTime(nextRun.runAfter)}`}>
                <Time at={nextRun.logicalDate} />
              </span>
            ) : dag.datasetSchedule ? (
              <span class="muted">on datasets</span>
            ) : (
              <span class="muted">–</span>
            )}
          </td>
        </tr>
      ))}
    </>
  );
}
