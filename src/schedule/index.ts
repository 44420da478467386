// Cron schedules and Airflow's data intervals. Every function takes the clock as
// an argument; docs/scheduling.md states the rules for users.
export { PRESETS } from './presets.js';
export { validateSchedule } from './validate.js';
export { validateTimezone } from './zone.js';
export {
  checkDateText,
  DATE_INPUT_RULE,
  dateInputRule,
  inZone,
  parseDateInZone,
  parseRangeEndInZone,
} from './dates.js';
export type { DagRunInfo, DataInterval, ScheduleSpec } from './types.js';
export { dueRuns, manualRunInfo, nextDagRunInfo, upcomingRuns } from './intervals.js';
