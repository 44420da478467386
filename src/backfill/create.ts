/**
 * Creating a backfill, and previewing one (dry run). A backfill is a stored request
 * (Airflow 3's model): this writes the row, the scheduler plans and runs it (advance.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import { and, eq, gte, inArray, lte } from 'drizzle-orm';
import { getDag } from '../catalog/dags.js';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import { auditLog, backfills, dagRuns, dags } from '../db/schema.js';
import { resolveConf } from '../dag/params.js';
import type { SerializedDag } from '../dag/serialize.js';
import { InputError, UpdraftError } from '../errors.js';
import { inZone, parseDateInZone, parseRangeEndInZone } from '../schedule/index.js';
import { parseInt4 } from '../util/input.js';
import type { Timetable } from '../schedule/timetable.js';
import { backfillTimetable, planIntervals, type PlanRange } from './plan.js';
import { describeBackfill, type BackfillInfo, type Reprocess } from './read.js';
import { notify } from '../db/notify.js';

export const REPROCESS: readonly Reprocess[] = ['none', 'failed', 'completed'];
/** Airflow 3's default max_active_runs of a backfill. */
export const DEFAULT_MAX_ACTIVE_RUNS = 10;

export interface BackfillRequest {
  dagId: string;
  /** A Date, or text read in the DAG's timezone ('2026-01-01' is midnight there). */
  from: Date | string;
  /** The same; a day without a time means the end of that day. */
  to: Date | string;
  /** Default 'none'. */
  reprocess?: Reprocess;
  /** Default 10; independent of the DAG's own maxActiveRuns. */
  maxActiveRuns?: number;
  /** Newest date first. Default false. */
  backwards?: boolean;
  /** The conf of every run the backfill creates, checked against the DAG's params. */
  conf?: Record<string, unknown>;
}

/** What a backfill would do with one logical date. */
export interface PlannedDate {
  logicalDate: Date;
  /** create a run, clear the existing one, or leave it alone (`reason` says why). */
  action: 'create' | 'clear' | 'skip';
  reason?: SkipReason;
  /** The run that exists for the date, if any. */
  existing?: { runId: string; state: string };
}

export type SkipReason = 'already exists' | 'in flight';

/** A checked request: dates read, DAG found, conf resolved. */
interface Resolved {
  dagRowId: string;
  serialized: SerializedDag;
  timetable: Timetable;
  range: PlanRange;
  reprocess: Reprocess;
  maxActiveRuns: number;
  conf: Record<string, unknown>;
}

/**
 * Airflow 3's rule (_get_dag_run_no_create_reason): a date whose run is queued or running
 * is never touched; `none` leaves every existing run alone, `failed` re-runs failed ones,
 * `completed` re-runs failed and successful ones.
 */
export function existingRunAction(state: string, reprocess: Reprocess): Pick<PlannedDate, 'action' | 'reason'> {
  if (state !== 'success' && state !== 'failed') return { action: 'skip', reason: 'in flight' };
  if (reprocess === 'completed' || (reprocess === 'failed' && state === 'failed')) return { action: 'clear' };
  return { action: 'skip', reason: 'already exists' };
}

async function resolve(db: Db, request: BackfillRequest, now: Date): Promise<Resolved> {
  const { dag, serialized } = await getDag(db, request.dagId);
  if (!dag.isActive)
    throw new UpdraftError(`DAG '${request.dagId}' is no longer defined by any file in the DAGs folder`);
  const timetable = backfillTimetable(request.dagId, serialized);
  const { from, to } = requestDates(request, serialized.timezone);
  if (from > now)
    throw new InputError(
      `from ${from.toISOString()} is in the future: a backfill runs intervals that have already ended`,
      'from',
    );
  const reprocess = request.reprocess ?? 'none';
  if (!REPROCESS.includes(reprocess))
    throw new InputError(`reprocess must be one of ${REPROCESS.join(', ')}, got '${String(reprocess)}'`, 'reprocess');
  const maxActiveRuns = request.maxActiveRuns ?? DEFAULT_MAX_ACTIVE_RUNS;
  parseInt4(maxActiveRuns, 'maxActiveRuns', { min: 1, name: 'max active runs' });
  // Checked now; stored as given (params' defaults apply when a task reads them).
  resolveConf(serialized.params, request.conf ?? {}, request.dagId, 'conf');
  return {
    dagRowId: dag.id,
    serialized,
    timetable,
    range: { from, to, backwards: request.backwards ?? false, completeBy: now },
    reprocess,
    maxActiveRuns,
    conf: request.conf ?? {},
  };
}

/**
 * The request's range read in the DAG's timezone; errors name the bound. A `to` without a
 * time covers that whole day: '--to 2026-01-31' includes a run at 02:00 on the 31st.
 */
export function requestDates(
  request: Pick<BackfillRequest, 'from' | 'to'>,
  timezone: string,
): { from: Date; to: Date } {
  const read = (value: Date | string, what: 'from' | 'to') => {
    try {
      return what === 'from' ? parseDateInZone(value, timezone) : parseRangeEndInZone(value, timezone);
    } catch (error) {
      throw new InputError(`${what}: ${(error as Error).message}`, what, { cause: error });
    }
  };
  const from = read(request.from, 'from');
  const to = read(request.to, 'to');
  if (from > to)
    throw new InputError(`the range is empty: from ${from.toISOString()} is after to ${to.toISOString()}`, 'from');
  return { from, to };
}

function emptyRange(dagId: string, { serialized: { schedule, timezone }, range }: Resolved): InputError {
  return new InputError(
    `nothing to backfill: no complete schedule interval of DAG '${dagId}' (schedule ${String(schedule)}, timezone ${timezone}) has a logical date from ${inZone(range.from, timezone)} to ${inZone(range.to, timezone)}`,
    'from',
  );
}

/**
 * Stores a backfill; the scheduler takes it from there. A DAG has at most one unfinished
 * backfill (running or paused): a second is refused, naming the first.
 */
export async function createBackfill(
  db: Db,
  request: BackfillRequest,
  actor: string,
  now = new Date(),
): Promise<BackfillInfo> {
  const r = await resolve(db, request, now);
  // Planned lazily by the scheduler, but an empty backfill is refused here: one step tells.
  if (planIntervals(r.timetable, r.range, null).next().done) throw emptyRange(request.dagId, r);
  try {
    return await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(backfills)
        .values({
          dagId: r.dagRowId,
          fromDate: r.range.from,
          toDate: r.range.to,
          reprocess: r.reprocess,
          maxActiveRuns: r.maxActiveRuns,
          backwards: r.range.backwards,
          conf: r.conf,
          createdBy: actor,
          createdAt: now,
        })
        .returning();
      await tx.insert(auditLog).values({
        actor,
        action: 'backfill.create',
        dagId: request.dagId,
        details: {
          backfillId: row!.id,
          from: r.range.from,
          to: r.range.to,
          reprocess: r.reprocess,
          maxActiveRuns: r.maxActiveRuns,
          backwards: r.range.backwards,
          conf: r.conf,
        },
      });
      // Schedulers plan and start it at once.
      await notify(tx, 'runs', request.dagId);
      return describeBackfill(row!, request.dagId);
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const active = await activeBackfill(db, request.dagId);
    throw new UpdraftError(
      `DAG '${request.dagId}' already has an unfinished backfill${active ? ` (${active.id}, ${active.state})` : ''}: follow that one, or cancel it before creating another`,
      { cause: error },
    );
  }
}

/** The DAG's running or paused backfill, if any. */
export async function activeBackfill(db: Db, dagId: string): Promise<BackfillInfo | null> {
  const [row] = await db
    .select({ backfill: backfills })
    .from(backfills)
    .innerJoin(dags, eq(dags.id, backfills.dagId))
    .where(and(eq(dags.dagId, dagId), inArray(backfills.state, ['running', 'paused'])));
  return row ? describeBackfill(row.backfill, dagId) : null;
}

/**
 * Whether an unfinished backfill is the one `request` asks for (same range, options and
 * conf): running the same command again attaches to it. `timezone` is the DAG's.
 */
export function isSameRequest(backfill: BackfillInfo, request: BackfillRequest, timezone: string): boolean {
  const { from, to } = requestDates(request, timezone);
  return (
    backfill.from.getTime() === from.getTime() &&
    backfill.to.getTime() === to.getTime() &&
    backfill.reprocess === (request.reprocess ?? 'none') &&
    backfill.backwards === (request.backwards ?? false) &&
    backfill.maxActiveRuns === (request.maxActiveRuns ?? DEFAULT_MAX_ACTIVE_RUNS) &&
    // As data: jsonb keeps an object's keys in its own order.
    isDeepStrictEqual(backfill.conf, request.conf ?? {})
  );
}

/** Dates whose existing runs the dry run reads in one query. */
const LOOKUP_CHUNK = 1_000;

/**
 * Every date the backfill would cover, in its order, with what it would do to each
 * given the runs that exist now. Writes nothing. Reads existing runs a chunk at a time.
 */
export async function dryRunBackfill(db: Db, request: BackfillRequest, now = new Date()): Promise<PlannedDate[]> {
  const r = await resolve(db, request, now);
  const planned: PlannedDate[] = [];
  const chunk: PlannedDate[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const dates = chunk.map((p) => p.logicalDate.getTime());
    const rows = await db
      .select({ logicalDate: dagRuns.logicalDate, runId: dagRuns.runId, state: dagRuns.state })
      .from(dagRuns)
      .where(
        and(
          eq(dagRuns.dagId, r.dagRowId),
          gte(dagRuns.logicalDate, new Date(Math.min(...dates))),
          lte(dagRuns.logicalDate, new Date(Math.max(...dates))),
        ),
      );
    const existing = new Map(rows.map((row) => [row.logicalDate.getTime(), row]));
    for (const p of chunk) {
      const run = existing.get(p.logicalDate.getTime());
      if (run)
        Object.assign(p, existingRunAction(run.state, r.reprocess), {
          existing: { runId: run.runId, state: run.state },
        });
      planned.push(p);
    }
    chunk.length = 0;
  };
  for (const info of planIntervals(r.timetable, r.range, null)) {
    chunk.push({ logicalDate: info.logicalDate, action: 'create' });
    if (chunk.length >= LOOKUP_CHUNK) await flush();
  }
  await flush();
  return planned;
}
