/**
 * Schedule presets, as in Airflow's `cron_presets`. `@once` has no cron: it is
 * one run at the DAG's startDate (see intervals.ts). `@midnight` and `@annually`
 * are aliases of `@daily` and `@yearly`, as in classic crontab (Airflow accepts
 * them through croniter); `@quarterly` is Airflow's. Airflow's `@continuous`
 * (a new run as soon as the last one ends) is not supported: UNSUPPORTED says so.
 */
export const PRESETS: Record<string, string | null> = Object.freeze({
  '@once': null,
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
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

/** Presets of Airflow that Updraft knows but does not run, with what to write instead. */
export const UNSUPPORTED_PRESETS: Readonly<Record<string, string>> = Object.freeze({
  '@continuous':
    "Airflow's run-after-run schedule is not supported: use a cron schedule with maxActiveRuns: 1, or trigger runs",
});
