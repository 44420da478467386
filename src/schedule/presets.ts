/**
 * Schedule presets, as in Airflow's `cron_presets`. `@once` has no cron: it is
 * one run at the DAG's startDate (see intervals.ts). `@annually` is an alias of
 * `@yearly`, as in classic crontab; `@quarterly` is Airflow's.
 */
export const PRESETS: Record<string, string | null> = Object.freeze({
  '@once': null,
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@quarterly': '0 0 1 */3 *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
});

export function isPreset(schedule: string): boolean {
  return Object.hasOwn(PRESETS, schedule);
}

export const PRESET_NAMES: readonly string[] = Object.keys(PRESETS);
