import { resolveCron, type WallCron } from './cron.js';
import { Timetable } from './timetable.js';
import { Zone, validateTimezone } from './zone.js';

export type CompiledSchedule = { kind: 'once' } | { kind: 'cron'; timetable: Timetable };

// Specs are re-read on every scheduler pass; parsing a cron costs ~40 µs.
const compiled = new Map<string, CompiledSchedule>();

/** Throws ScheduleError naming the bad cron expression, preset or timezone. */
export function validateSchedule(schedule: string, timezone: string): void {
  compileSchedule(schedule, timezone);
}

export function compileSchedule(schedule: string, timezone: string): CompiledSchedule {
  const key = `${timezone}\u0000${schedule}`;
  let result = compiled.get(key);
  if (!result) {
    validateTimezone(timezone);
    const cron: WallCron | 'once' = resolveCron(schedule);
    result = cron === 'once' ? { kind: 'once' } : { kind: 'cron', timetable: new Timetable(cron, Zone.of(timezone)) };
    if (compiled.size >= 1024) compiled.clear();
    compiled.set(key, result);
  }
  return result;
}
