/**
 * The schedule intervals a backfill covers, computed lazily: a year of a 5-minute cron
 * in a named zone is 105,120 intervals at ~30-40 µs a cron step, seconds in all, so
 * the scheduler plans a backfill in chunks (advance.ts) and never all up front.
 */
import { scheduleSpecOf } from '../catalog/dags.js';
import type { SerializedDag } from '../dag/serialize.js';
import { ConfigError } from '../errors.js';
import type { DagRunInfo } from '../schedule/index.js';
import type { Timetable } from '../schedule/timetable.js';
import { compileSchedule } from '../schedule/validate.js';

export interface PlanRange {
  /** Logical dates from (inclusive) ... */
  from: Date;
  /** ... to (inclusive). */
  to: Date;
  /** Newest date first. */
  backwards: boolean;
  /** Intervals ending after this are not complete yet and are left out (the backfill's creation time). */
  completeBy: Date;
}

/** The DAG's cron timetable; a DAG without schedule intervals cannot be backfilled. */
export function backfillTimetable(dagId: string, serialized: SerializedDag): Timetable {
  const spec = scheduleSpecOf(serialized);
  const compiled = spec.schedule === null ? null : compileSchedule(spec.schedule, spec.timezone);
  if (compiled === null || compiled.kind === 'once') {
    throw new ConfigError(
      `DAG '${dagId}' has no schedule intervals to backfill (schedule: ${spec.schedule === null ? 'null' : spec.schedule}); queue runs with 'updraft dags trigger' instead`,
    );
  }
  return compiled.timetable;
}

/**
 * The range's intervals in the backfill's order, one at a time, after `cursor` (the
 * logical date of the last interval already planned; null to start from the beginning).
 */
export function* planIntervals(timetable: Timetable, range: PlanRange, cursor: Date | null): Generator<DagRunInfo> {
  const from = range.from.getTime();
  const to = range.to.getTime();
  const completeBy = range.completeBy.getTime();
  if (!range.backwards) {
    for (let start = cursor ? timetable.next(cursor.getTime()) : timetable.alignNext(from); start <= to; ) {
      const end = timetable.next(start);
      // Later intervals end later still.
      if (end > completeBy) return;
      yield interval(start, end);
      start = end;
    }
    return;
  }
  // From the last interval that can have ended: a `to` far ahead costs no steps.
  let start = cursor ? timetable.prev(cursor.getTime()) : timetable.alignPrev(Math.min(to, completeBy));
  // Backwards, each interval ends where the one planned before it starts.
  let end = cursor ? cursor.getTime() : start >= from ? timetable.next(start) : start;
  while (start >= from) {
    if (end <= completeBy) yield interval(start, end);
    end = start;
    start = timetable.prev(start);
  }
}

function interval(start: number, end: number): DagRunInfo {
  return {
    logicalDate: new Date(start),
    interval: { start: new Date(start), end: new Date(end) },
    runAfter: new Date(end),
  };
}
