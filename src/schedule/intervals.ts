import { ScheduleError } from '../errors.js';
import type { Timetable } from './timetable.js';
import type { DagRunInfo, DataInterval, ScheduleSpec } from './types.js';
import { compileSchedule } from './validate.js';

function instant(date: Date, what: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new ScheduleError(`${what} is not a valid Date`);
  return ms;
}

function info(logicalDate: number, start: number, end: number, runAfter: number): DagRunInfo {
  return {
    logicalDate: new Date(logicalDate),
    interval: { start: new Date(start), end: new Date(end) },
    runAfter: new Date(runAfter),
  };
}

/**
 * Successive scheduled runs of one spec at one `now`, computed one at a time so
 * callers pay for what they take (a cron step costs ~35 µs; a year of a 5-minute
 * schedule is 105k steps). Mirrors Airflow's next_dagrun_info, with `earliest`
 * computed once.
 */
class RunSequence {
  private readonly earliest: number;
  /** Where the next interval may start at the earliest (aligned end of the previous one), or null for the first run. */
  private after: number | null;

  constructor(
    private readonly timetable: Timetable,
    private readonly spec: ScheduleSpec & { startDate: Date },
    lastAutomated: DataInterval | null,
    now: Date,
  ) {
    const start = instant(spec.startDate, 'startDate');
    const current = instant(now, 'now');
    this.earliest = spec.catchup ? timetable.alignNext(start) : this.skipToLatest(start, current);
    // Aligned because the schedule may have changed since that run.
    this.after = lastAutomated ? timetable.alignPrev(instant(lastAutomated.end, 'the last interval end')) : null;
  }

  /**
   * Airflow's _skip_to_latest: the start of the latest complete interval before
   * `now` (the one ending at `now` when `now` is a fire time), but never before
   * the first interval at or after startDate.
   */
  private skipToLatest(start: number, now: number): number {
    const latest = this.timetable.prev(this.timetable.alignPrev(now));
    return Math.max(latest, this.timetable.alignNext(start));
  }

  next(): DagRunInfo | null {
    const start = this.after === null ? this.earliest : Math.max(this.after, this.earliest);
    if (this.spec.endDate && start > instant(this.spec.endDate, 'endDate')) return null;
    const end = this.timetable.next(start);
    this.after = end;
    return info(start, start, end, end);
  }
}

/** A stream of the runs the spec schedules after lastAutomated, or null when it schedules none. */
function runSequence(
  spec: ScheduleSpec,
  lastAutomated: DataInterval | null,
  now: Date,
): { next(): DagRunInfo | null } | null {
  if (spec.schedule === null) return null;
  const compiled = compileSchedule(spec.schedule, spec.timezone);
  const startDate = spec.startDate;
  if (startDate === null) return null;
  if (compiled.kind === 'cron') return new RunSequence(compiled.timetable, { ...spec, startDate }, lastAutomated, now);
  // Airflow's OnceTimetable: one run at startDate whatever catchup says, none once a run exists.
  let done = lastAutomated !== null || (spec.endDate !== null && startDate > spec.endDate);
  return {
    next() {
      if (done) return null;
      done = true;
      const at = startDate.getTime();
      return info(at, at, at, at);
    },
  };
}

/** The run the scheduler should create next (it may not be due yet), as Airflow's next_dagrun_info. */
export function nextDagRunInfo(spec: ScheduleSpec, lastAutomated: DataInterval | null, now: Date): DagRunInfo | null {
  return runSequence(spec, lastAutomated, now)?.next() ?? null;
}

/** Every run due at `now` (runAfter <= now) after lastAutomated, oldest first, at most `limit`. */
export function dueRuns(
  spec: ScheduleSpec,
  lastAutomated: DataInterval | null,
  now: Date,
  limit: number,
): DagRunInfo[] {
  const runs: DagRunInfo[] = [];
  if (limit < 1) return runs;
  const sequence = runSequence(spec, lastAutomated, now);
  while (sequence && runs.length < limit) {
    const run = sequence.next();
    if (run === null || run.runAfter > now) break;
    runs.push(run);
  }
  return runs;
}

/** The next n runs from lastAutomated on, due or not (for `updraft dags next`). */
export function upcomingRuns(
  spec: ScheduleSpec,
  lastAutomated: DataInterval | null,
  now: Date,
  n: number,
): DagRunInfo[] {
  const runs: DagRunInfo[] = [];
  const sequence = n < 1 ? null : runSequence(spec, lastAutomated, now);
  while (sequence && runs.length < n) {
    const run = sequence.next();
    if (run === null) break;
    runs.push(run);
  }
  return runs;
}

/**
 * A manual trigger at `at`: its logical date is `at`; its interval is the last
 * complete schedule interval ending at or before `at` (Airflow's
 * infer_manual_data_interval), or [at, at] without a cron schedule.
 */
export function manualRunInfo(spec: ScheduleSpec, at: Date): DagRunInfo {
  const t = instant(at, 'the trigger time');
  const compiled = spec.schedule === null ? null : compileSchedule(spec.schedule, spec.timezone);
  if (compiled === null || compiled.kind === 'once') return info(t, t, t, t);
  const end = compiled.timetable.alignPrev(t);
  return info(t, compiled.timetable.prev(end), end, t);
}
