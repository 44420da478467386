/**
 * The scheduler's part of a backfill, one pass at a time: plan the next chunk of
 * dates, start dates while the backfill has room under its maxActiveRuns, and close
 * the backfill when every date is done. A new date starts as soon as one of the
 * backfill's runs ends (the run's end wakes the scheduler), never batch by batch.
 */
import { sql } from 'drizzle-orm';
import { adoptRunForBackfill } from '../state/backfill-runs.js';
import { clearWithin } from '../state/clear.js';
import type { Db } from '../db/client.js';
import { describeDatabaseError } from '../db/errors.js';
import { execute, jsonb, toDate, type Tx } from '../db/execute.js';
import { dagRuns } from '../db/schema.js';
import type { SerializedDag } from '../dag/serialize.js';
import { UpdraftError } from '../errors.js';
import type { DagCache } from '../state/dag-cache.js';
import { runValues } from '../state/new-run.js';
import { existingRunAction } from './create.js';
import { backfillTimetable, planIntervals } from './plan.js';
import type { Reprocess } from './read.js';
import { notify } from '../db/notify.js';

// A chunk of the plan per pass, bounded in count and time: a year of a 5-minute cron in
// America/New_York (105,120 dates) plans in ~106 passes of ~40 ms, and the first run
// starts after the first chunk (bench/backfill.ts). The time bound counts only after the
// first 100 dates (about 4 ms of work): on a loaded machine a pass once stopped after 2
// dates, and every pass must move a backfill on by more than that.
const PLAN_CHUNK = 1_000;
const PLAN_MIN = 100;
const PLAN_BUDGET_MS = 100;

export interface AdvanceReport {
  /** Runs created or cleared for backfills: queued now, for startQueuedRuns. */
  queued: number;
  /** Some plan is not complete yet: run another pass at once. */
  again: boolean;
  /** Backfills that ended in this pass. */
  completed: number[];
  /** Backfills this pass could not move on; the others went on. */
  errors: Error[];
}

interface BackfillRow extends Record<string, unknown> {
  id: number;
  dag_row_id: string;
  dag_id: string;
  version_id: string;
  serialized: SerializedDag;
  from_date: Date | string;
  to_date: Date | string;
  reprocess: Reprocess;
  max_active_runs: number;
  backwards: boolean;
  conf: Record<string, unknown>;
  planned: number;
  plan_cursor: Date | string | null;
  plan_done: boolean;
  created_by: string;
  created_at: Date | string;
}

/** One pass over every running backfill; each in its own transaction, skipped if another scheduler holds it. */
export async function advanceBackfills(db: Db, cache: DagCache, now = new Date()): Promise<AdvanceReport> {
  const report: AdvanceReport = { queued: 0, again: false, completed: [], errors: [] };
  const { rows } = await execute<{ id: number }>(db, sql`select id from backfills where state = 'running' order by id`);
  for (const { id } of rows) {
    try {
      const one = await db.transaction((tx) => advanceOne(tx, cache, id, now));
      report.queued += one.queued;
      report.again ||= one.again;
      if (one.completed) report.completed.push(id);
    } catch (error) {
      // One backfill that cannot go on (its DAG's schedule no longer compiles, say) holds back no other.
      report.errors.push(
        new UpdraftError(`backfill ${id}: ${describeDatabaseError(error) ?? (error as Error).message}`, {
          cause: error,
        }),
      );
    }
  }
  return report;
}

async function advanceOne(
  tx: Tx,
  cache: DagCache,
  id: number,
  now: Date,
): Promise<{ queued: number; again: boolean; completed: boolean }> {
  // Locked for the pass: two schedulers never start the same date or overfill the backfill.
  const { rows } = await execute<BackfillRow>(
    tx,
    sql`select b.*, d.id as dag_row_id, d.dag_id, v.id as version_id, v.serialized
          from backfills b join dags d on d.id = b.dag_id join dag_versions v on v.id = d.latest_version_id
         where b.id = ${id} and b.state = 'running'
           for update of b skip locked`,
  );
  const b = rows[0];
  if (!b) return { queued: 0, again: false, completed: false };
  const planDone = b.plan_done || (await planChunk(tx, b));

  const [{ active }] = (
    await execute<{ active: number }>(
      tx,
      sql`select count(*)::int as active from dag_runs where backfill_id = ${id} and state in ('queued', 'running')`,
    )
  ).rows as [{ active: number }];
  let room = b.max_active_runs - active;
  let queued = 0;
  let cleared = 0;
  let pendingLeft = true;
  while (room > 0) {
    const { rows: pending } = await execute<{
      ordinal: number;
      logical_date: Date | string;
      interval_start: Date | string;
      interval_end: Date | string;
    }>(
      tx,
      sql`select ordinal, logical_date, interval_start, interval_end from backfill_runs where backfill_id = ${id} and outcome is null order by ordinal limit ${room}`,
    );
    if (pending.length === 0) {
      pendingLeft = false;
      break;
    }
    for (const p of pending) {
      const logicalDate = toDate(p.logical_date);
      const info = {
        logicalDate,
        interval: { start: toDate(p.interval_start), end: toDate(p.interval_end) },
        runAfter: toDate(p.interval_end),
      };
      const outcome = await startDate(tx, cache, b, info);
      await execute(
        tx,
        sql`update backfill_runs set outcome = ${outcome.outcome}, reason = ${outcome.reason ?? null}, dag_run_id = ${outcome.runRowId ?? null}
             where backfill_id = ${id} and ordinal = ${p.ordinal}`,
      );
      if (outcome.outcome !== 'skipped') {
        room -= 1;
        queued += 1;
      }
      if (outcome.outcome === 'cleared') cleared += 1;
    }
  }

  const completed = planDone && !pendingLeft && active + queued === 0;
  if (completed)
    await execute(
      tx,
      sql`update backfills set state = 'completed', completed_at = ${now}, updated_at = now() where id = ${id}`,
    );
  // Live pages and attached CLIs hear of new runs and of the end (a clear has sent its own NOTIFY: one a transaction).
  if ((queued > 0 && cleared === 0) || completed) await notify(tx, 'state');
  return { queued, again: !planDone, completed };
}

/** Writes the next chunk of the plan; true when the plan is complete. */
async function planChunk(tx: Tx, b: BackfillRow): Promise<boolean> {
  const timetable = backfillTimetable(b.dag_id, b.serialized);
  const range = {
    from: toDate(b.from_date),
    to: toDate(b.to_date),
    backwards: b.backwards,
    completeBy: toDate(b.created_at),
  };
  const started = performance.now();
  const dates: { ordinal: number; logical_date: Date; interval_start: Date; interval_end: Date }[] = [];
  let done = true;
  for (const info of planIntervals(timetable, range, b.plan_cursor === null ? null : toDate(b.plan_cursor))) {
    dates.push({
      ordinal: b.planned + dates.length,
      logical_date: info.logicalDate,
      interval_start: info.interval.start,
      interval_end: info.interval.end,
    });
    if (dates.length >= PLAN_CHUNK || (dates.length >= PLAN_MIN && performance.now() - started > PLAN_BUDGET_MS)) {
      done = false;
      break;
    }
  }
  if (dates.length > 0) {
    await execute(
      tx,
      sql`insert into backfill_runs (backfill_id, ordinal, logical_date, interval_start, interval_end)
          select ${b.id}, d.ordinal, d.logical_date, d.interval_start, d.interval_end
            from jsonb_to_recordset(${jsonb(dates)}) as d(ordinal int, logical_date timestamptz, interval_start timestamptz, interval_end timestamptz)`,
    );
  }
  await execute(
    tx,
    sql`update backfills set planned = planned + ${dates.length}, plan_cursor = ${dates.at(-1)?.logical_date ?? toDate(b.plan_cursor)},
               plan_done = ${done}, updated_at = now()
         where id = ${b.id}`,
  );
  return done;
}

interface DateOutcome {
  outcome: 'created' | 'cleared' | 'skipped';
  reason?: string;
  runRowId?: string;
}

/**
 * One date: create its run, or, when a run exists, clear it or leave it alone by the
 * reprocess rule. The existing run is locked first, so a run that is queued or running
 * is never duplicated or cleared, whatever else happens at the same time.
 */
async function startDate(
  tx: Tx,
  cache: DagCache,
  b: BackfillRow,
  info: Parameters<typeof runValues>[3],
): Promise<DateOutcome> {
  const created = await tx
    .insert(dagRuns)
    .values({ ...runValues(b.dag_row_id, b.version_id, 'backfill', info, b.conf), backfillId: b.id })
    .onConflictDoNothing()
    .returning({ id: dagRuns.id });
  if (created[0]) return { outcome: 'created', runRowId: created[0].id };

  const { rows } = await execute<{ id: string; run_id: string; state: string }>(
    tx,
    sql`select id, run_id, state from dag_runs where dag_id = ${b.dag_row_id} and logical_date = ${info.logicalDate} for update`,
  );
  const existing = rows[0];
  // The insert met another run with the same id but not this date: nothing to lock or clear.
  if (!existing)
    return {
      outcome: 'skipped',
      reason: `a run with id ${runValues(b.dag_row_id, b.version_id, 'backfill', info, {}).runId} exists for another date`,
    };
  const action = existingRunAction(existing.state, b.reprocess);
  if (action.action === 'skip') return { outcome: 'skipped', reason: action.reason, runRowId: existing.id };
  try {
    await clearWithin(tx, cache, b.dag_id, { actor: b.created_by, runId: existing.run_id });
  } catch (error) {
    // Refused before it wrote anything (a task instance still queued or running): the date is left alone.
    if (!(error instanceof UpdraftError)) throw error;
    return { outcome: 'skipped', reason: `not cleared: ${error.message}`, runRowId: existing.id };
  }
  await adoptRunForBackfill(tx, existing.id, b.id, b.conf);
  return { outcome: 'cleared', runRowId: existing.id };
}
