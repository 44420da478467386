/** A run's birth: its id and the values of its row, queued (the scheduler, backfills and event triggers create runs). */
import type { DagRunInfo } from '../schedule/index.js';

/** Airflow's run ids: '<type>__<logical date, ISO with offset>'. */
export type RunType = 'scheduled' | 'manual' | 'backfill' | 'dataset_triggered' | 'event';

export function makeRunId(type: RunType, logicalDate: Date): string {
  return `${type}__${logicalDate.toISOString().replace(/\.000Z$|Z$/, '+00:00')}`;
}

/** The row of a new run, queued: it starts when a scheduler finds room for it (src/state/start-runs.ts). */
export function runValues(
  dagRowId: string,
  versionId: string,
  type: RunType,
  run: DagRunInfo,
  conf: Record<string, unknown>,
) {
  return {
    dagId: dagRowId,
    dagVersionId: versionId,
    runId: makeRunId(type, run.logicalDate),
    runType: type,
    state: 'queued' as const,
    logicalDate: run.logicalDate,
    intervalStart: run.interval.start,
    intervalEnd: run.interval.end,
    runAfter: run.runAfter,
    conf,
    queuedAt: new Date(),
  };
}
