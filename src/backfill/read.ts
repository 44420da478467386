/** Reading backfills: one with its progress, a list, and the dates of one. */
import { and, asc, count, desc, eq, ne, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute } from '../db/execute.js';
import { backfillRuns, backfills, dagRuns, dags } from '../db/schema.js';
import { NotFoundError } from '../errors.js';
import type { BackfillState } from '../state/vocabulary.js';

export type Reprocess = 'none' | 'failed' | 'completed';
export type { BackfillState };
type BackfillRow = typeof backfills.$inferSelect;

export interface BackfillInfo {
  id: number;
  dagId: string;
  from: Date;
  to: Date;
  reprocess: Reprocess;
  maxActiveRuns: number;
  backwards: boolean;
  conf: Record<string, unknown>;
  state: BackfillState;
  /** Dates planned so far; the plan is complete when `planDone`. */
  planned: number;
  planDone: boolean;
  createdBy: string;
  createdAt: Date;
  completedAt: Date | null;
}

/** Where a backfill stands: its dates by what happened to them, and its runs by state. */
export interface BackfillProgress {
  /** Dates planned so far (the total once the plan is done). */
  total: number;
  planDone: boolean;
  /** Dates not reached yet. */
  pending: number;
  /** Dates left alone (a run existed). */
  skipped: number;
  /** The backfill's runs (created or cleared) by state. */
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  /** Task instances of its runs that are queued or running now. */
  runningTasks: number;
}

/** Dates done: their runs ended, or they were left alone. */
export function datesDone(p: BackfillProgress): number {
  return p.succeeded + p.failed + p.skipped;
}

export interface BackfillDate {
  ordinal: number;
  logicalDate: Date;
  outcome: 'created' | 'cleared' | 'skipped' | null;
  reason: string | null;
  runId: string | null;
  runState: string | null;
}

export function describeBackfill(row: BackfillRow, dagId: string): BackfillInfo {
  return {
    id: row.id,
    dagId,
    from: row.fromDate,
    to: row.toDate,
    reprocess: row.reprocess,
    maxActiveRuns: row.maxActiveRuns,
    backwards: row.backwards,
    conf: row.conf as Record<string, unknown>,
    state: row.state,
    planned: row.planned,
    planDone: row.planDone,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    completedAt: row.completedAt,
  };
}

function unknown(id: number): NotFoundError {
  return new NotFoundError(`no backfill with id ${id} (see 'updraft backfill list')`);
}

/** One backfill by id; NotFoundError names it. */
export async function getBackfill(db: Db, id: number): Promise<BackfillInfo> {
  const [row] = await db
    .select({ backfill: backfills, dagId: dags.dagId })
    .from(backfills)
    .innerJoin(dags, eq(dags.id, backfills.dagId))
    .where(eq(backfills.id, id));
  if (!row) throw unknown(id);
  return describeBackfill(row.backfill, row.dagId);
}

/** Backfills, newest first, optionally of one DAG or in some states. */
export async function listBackfills(
  db: Db,
  filter: { dagId?: string; states?: readonly BackfillState[]; limit?: number; offset?: number } = {},
): Promise<{ backfills: BackfillInfo[]; total: number }> {
  const where = and(
    filter.dagId ? eq(dags.dagId, filter.dagId) : undefined,
    filter.states && filter.states.length > 0 ? sql`${backfills.state} in ${filter.states}` : undefined,
  );
  const rows = await db
    .select({ backfill: backfills, dagId: dags.dagId })
    .from(backfills)
    .innerJoin(dags, eq(dags.id, backfills.dagId))
    .where(where)
    .orderBy(desc(backfills.id))
    .limit(filter.limit ?? 100)
    .offset(filter.offset ?? 0);
  const [counted] = await db
    .select({ total: count() })
    .from(backfills)
    .innerJoin(dags, eq(dags.id, backfills.dagId))
    .where(where);
  return { backfills: rows.map((r) => describeBackfill(r.backfill, r.dagId)), total: Number(counted?.total ?? 0) };
}

/** The backfill's progress, read in one statement. */
export async function backfillProgress(db: Db, id: number): Promise<BackfillProgress> {
  const { rows } = await execute<Record<string, string | number | boolean>>(
    db,
    sql`select b.planned, b.plan_done,
               count(br.ordinal) filter (where br.outcome is null) as pending,
               count(br.ordinal) filter (where br.outcome = 'skipped') as skipped,
               count(br.ordinal) filter (where br.outcome <> 'skipped' and r.state = 'queued') as queued,
               count(br.ordinal) filter (where br.outcome <> 'skipped' and r.state = 'running') as running,
               count(br.ordinal) filter (where br.outcome <> 'skipped' and r.state = 'success') as succeeded,
               count(br.ordinal) filter (where br.outcome <> 'skipped' and r.state = 'failed') as failed,
               (select count(*) from task_instances ti join dag_runs x on x.id = ti.run_id
                 where x.backfill_id = b.id and x.state in ('queued', 'running') and ti.state in ('queued', 'running')) as running_tasks
          from backfills b
          left join backfill_runs br on br.backfill_id = b.id
          left join dag_runs r on r.id = br.dag_run_id
         where b.id = ${id}
         group by b.id`,
  );
  const row = rows[0];
  if (!row) throw unknown(id);
  const n = (key: string) => Number(row[key]);
  return {
    total: n('planned'),
    planDone: row.plan_done === true,
    pending: n('pending'),
    skipped: n('skipped'),
    queued: n('queued'),
    running: n('running'),
    succeeded: n('succeeded'),
    failed: n('failed'),
    runningTasks: n('running_tasks'),
  };
}

/** The dates of a backfill in its order, with what happened to each; `state` keeps those whose run is in it ('failed'). */
export async function backfillDates(
  db: Db,
  id: number,
  page: { limit?: number; offset?: number; state?: string } = {},
): Promise<{ dates: BackfillDate[]; total: number }> {
  // A state keeps the dates whose run the backfill ran (created or cleared), not those it left alone.
  const where: SQL | undefined = and(
    eq(backfillRuns.backfillId, id),
    page.state ? and(eq(dagRuns.state, page.state as 'failed'), ne(backfillRuns.outcome, 'skipped')) : undefined,
  );
  const dates = await db
    .select({
      ordinal: backfillRuns.ordinal,
      logicalDate: backfillRuns.logicalDate,
      outcome: backfillRuns.outcome,
      reason: backfillRuns.reason,
      runId: dagRuns.runId,
      runState: dagRuns.state,
    })
    .from(backfillRuns)
    .leftJoin(dagRuns, eq(dagRuns.id, backfillRuns.dagRunId))
    .where(where)
    .orderBy(asc(backfillRuns.ordinal))
    .limit(page.limit ?? 100)
    .offset(page.offset ?? 0);
  const [counted] = await db
    .select({ total: count() })
    .from(backfillRuns)
    .leftJoin(dagRuns, eq(dagRuns.id, backfillRuns.dagRunId))
    .where(where);
  return { dates, total: Number(counted?.total ?? 0) };
}
