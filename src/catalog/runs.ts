import { and, asc, desc, eq, exists, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { dagRuns, taskInstances, taskLogs, type DagRunRow } from '../db/schema.js';
import { NotFoundError } from '../errors.js';
import { findDagRow } from './dags.js';
import type { RunState } from '../state/vocabulary.js';

export interface RunSummary {
  runId: string;
  type: DagRunRow['runType'];
  state: RunState;
  logicalDate: Date;
  interval: { start: Date; end: Date };
  startedAt: Date | null;
  endedAt: Date | null;
  /** From start to end; null until the run has ended. */
  durationMs: number | null;
  /** Why the DAG's last run callback failed (docs/callbacks.md); absent when it did not. */
  callbackError?: string;
}

/** A DAG row by its id (active or not); NotFoundError names the id. */
export async function dagRow(db: Db, dagId: string): Promise<{ id: string; timezone: string }> {
  const row = await findDagRow(db, dagId);
  if (!row) throw new NotFoundError(`no DAG with id '${dagId}' (see 'updraft dags list')`);
  return row;
}

/**
 * A DAG's runs, newest logical date first, at most `limit` of them; `more` tells
 * whether older ones were left out.
 */
export async function listRuns(
  db: Db,
  dagId: string,
  options: { state?: RunState; limit: number },
): Promise<{ timezone: string; runs: RunSummary[]; more: boolean }> {
  const dag = await dagRow(db, dagId);
  const rows = await db
    .select()
    .from(dagRuns)
    .where(and(eq(dagRuns.dagId, dag.id), options.state ? eq(dagRuns.state, options.state) : undefined))
    .orderBy(desc(dagRuns.logicalDate))
    .limit(options.limit + 1);
  return {
    timezone: dag.timezone,
    more: rows.length > options.limit,
    runs: rows.slice(0, options.limit).map((r) => ({
      runId: r.runId,
      type: r.runType,
      state: r.state,
      logicalDate: r.logicalDate,
      interval: { start: r.intervalStart, end: r.intervalEnd },
      startedAt: r.startedAt,
      endedAt: r.endedAt,
      durationMs: r.startedAt && r.endedAt ? r.endedAt.getTime() - r.startedAt.getTime() : null,
      ...(r.callbackError ? { callbackError: r.callbackError } : {}),
    })),
  };
}

/**
 * `runId` as `runs list` shows it, or 'latest': the run listed first (newest logical date);
 * with `withTask`, the newest run that has that task (a queued run has no task instances yet).
 */
export async function findRun(
  db: Db,
  dagId: string,
  runId: string,
  withTask?: string,
): Promise<{ id: string; runId: string }> {
  const dag = await dagRow(db, dagId);
  const latest = runId === 'latest';
  const hasTask =
    withTask === undefined
      ? undefined
      : exists(
          db
            .select({ one: sql`1` })
            .from(taskInstances)
            .where(and(eq(taskInstances.runId, dagRuns.id), eq(taskInstances.taskId, withTask))),
        );
  const [run] = await db
    .select({ id: dagRuns.id, runId: dagRuns.runId })
    .from(dagRuns)
    .where(and(eq(dagRuns.dagId, dag.id), latest ? hasTask : eq(dagRuns.runId, runId)))
    .orderBy(desc(dagRuns.logicalDate))
    .limit(1);
  if (!run) {
    throw new NotFoundError(
      !latest
        ? `DAG '${dagId}' has no run '${runId}' (see 'updraft runs list ${dagId}')`
        : withTask === undefined
          ? `DAG '${dagId}' has no runs yet`
          : `DAG '${dagId}' has no run with task '${withTask}' yet`,
    );
  }
  return run;
}

export interface LogLine {
  at: Date;
  level: string;
  message: string;
}

export interface TaskLog {
  runId: string;
  taskId: string;
  /** Null: not yet considered by the scheduler (Airflow's "none"). */
  state: string | null;
  /** Tries started so far. */
  tries: number;
  /** The tries asked for, in order, each with its lines in the order they were written. */
  logs: { tryNumber: number; lines: LogLine[] }[];
}

/**
 * The stored log of one task instance: every try, or only `tryNumber`. A try that
 * wrote nothing is listed with no lines.
 */
export async function taskLog(
  db: Db,
  dagId: string,
  runId: string,
  taskId: string,
  tryNumber?: number,
  mapIndex = -1,
): Promise<TaskLog> {
  const run = await findRun(db, dagId, runId, taskId);
  const [ti] = await db
    .select({ id: taskInstances.id, state: taskInstances.state, tries: taskInstances.tryNumber })
    .from(taskInstances)
    .where(
      and(eq(taskInstances.runId, run.id), eq(taskInstances.taskId, taskId), eq(taskInstances.mapIndex, mapIndex)),
    );
  if (!ti) {
    if (mapIndex !== -1)
      throw new NotFoundError(`task '${taskId}' of run '${run.runId}' has no mapped instance ${mapIndex}`);
    const ids = await db
      .select({ taskId: taskInstances.taskId })
      .from(taskInstances)
      .where(eq(taskInstances.runId, run.id))
      .orderBy(asc(taskInstances.taskId));
    const known =
      ids.length === 0
        ? 'it has no task instances'
        : `its tasks: ${ids
            .slice(0, 10)
            .map((r) => r.taskId)
            .join(', ')}${ids.length > 10 ? ', ...' : ''}`;
    throw new NotFoundError(`run '${run.runId}' of DAG '${dagId}' has no task '${taskId}' (${known})`);
  }
  if (tryNumber !== undefined && tryNumber > ti.tries) {
    const started = ti.tries === 0 ? 'has not started yet' : `has had ${ti.tries} ${ti.tries === 1 ? 'try' : 'tries'}`;
    throw new NotFoundError(`task '${taskId}' of run '${run.runId}' has no try ${tryNumber}: it ${started}`);
  }
  const rows = await db
    .select({ tryNumber: taskLogs.tryNumber, at: taskLogs.at, level: taskLogs.level, message: taskLogs.message })
    .from(taskLogs)
    .where(
      and(eq(taskLogs.taskInstanceId, ti.id), tryNumber === undefined ? undefined : eq(taskLogs.tryNumber, tryNumber)),
    )
    .orderBy(asc(taskLogs.tryNumber), asc(taskLogs.id));
  const byTry = new Map<number, LogLine[]>();
  const wanted = tryNumber === undefined ? Array.from({ length: ti.tries }, (_, i) => i + 1) : [tryNumber];
  for (const n of wanted) byTry.set(n, []);
  // A try handed back at shutdown is uncounted until claimed again, but its lines stay shown.
  for (const { tryNumber: n, ...line } of rows) {
    const lines = byTry.get(n) ?? [];
    lines.push(line);
    byTry.set(n, lines);
  }
  return {
    runId: run.runId,
    taskId,
    state: ti.state,
    tries: ti.tries,
    logs: [...byTry].sort(([a], [b]) => a - b).map(([n, lines]) => ({ tryNumber: n, lines })),
  };
}
