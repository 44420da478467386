/**
 * One line of figures per fault scenario, printed and (when FAULT_REPORT names a file)
 * appended to it as JSON, so that the figures a fix is judged by can be quoted:
 *
 *   fault <scenario>: runs expected N / succeeded M; executions per task max K (tasks run
 *   more than once: J, all on pid P); failed without starting: F; longest pause in
 *   completions S s
 *
 * and the checks every scenario makes of them (expectSound).
 */
import { appendFile } from 'node:fs/promises';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { key, marks, taskInstances, type Mark, type TaskRow } from './fault-cluster.js';

export interface FaultFigures {
  scenario: string;
  runsExpected: number;
  runsSucceeded: number;
  /** Logical dates with more than one run of the DAG. */
  duplicateRuns: number;
  /** Most starts of one task instance (all its tries, on any process). */
  maxExecutions: number;
  /** Task instances started more than once. */
  repeated: number;
  /** The processes of those extra executions: every start of a repeated task but its kept try's (its last, if it ran twice). */
  repeatedOn: number[];
  /** Tries that ended, or were used up, without their task having started (no `starts` row for that try). */
  failedWithoutStarting: number;
  /** Longest gap (s) between consecutive effects of `pids` within the window. */
  longestPauseS: number;
  /** Longest gap (s) between consecutive run starts within the window, when asked for. */
  longestRunStartGapS?: number;
}

export interface ReportOptions {
  db: Db;
  dagId: string;
  runsExpected: number;
  /** Whose completions count for the pause (default: every process's). */
  pids?: readonly number[];
  /** The time the pause is measured over (default: from the first effect to the last). */
  window?: { from: number; to: number };
  runStartGap?: boolean;
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

/** The longest gap between consecutive times in [from, to]. */
function longestGap(times: number[], window?: { from: number; to: number }): number {
  const inside = times.filter((t) => !window || (t >= window.from && t <= window.to)).sort((a, b) => a - b);
  let longest = 0;
  for (let i = 1; i < inside.length; i++) longest = Math.max(longest, inside[i]! - inside[i - 1]!);
  return longest;
}

export async function faultReport(scenario: string, o: ReportOptions): Promise<FaultFigures> {
  const { rows: runs } = await execute<{ logical_date: string; state: string; started_at: Date | string | null }>(
    o.db,
    sql`select r.logical_date::text, r.state, r.started_at from dag_runs r join dags d on d.id = r.dag_id where d.dag_id = ${o.dagId}`,
  );
  const dates = new Map<string, number>();
  for (const r of runs) dates.set(r.logical_date, (dates.get(r.logical_date) ?? 0) + 1);
  const tasks = await taskInstances(o.db);
  const starts = await marks('starts', o.dagId);
  const effects = await marks('effects', o.dagId);
  const startsOf = new Map<string, Mark[]>();
  for (const s of starts) startsOf.set(key(s), [...(startsOf.get(key(s)) ?? []), s]);
  const started = (t: { run_id: string; task_id: string }, tryNumber: number) =>
    (startsOf.get(key(t)) ?? []).some((s) => s.try_number === tryNumber);
  let failedWithoutStarting = 0;
  const repeatedOn = new Set<number>();
  let repeated = 0;
  let maxExecutions = 0;
  for (const t of tasks) {
    // Tries before the last were used up (failed or reaped); the last counts if it failed.
    for (let n = 1; n < t.try_number; n++) if (!started(t, n)) failedWithoutStarting++;
    if (t.state === 'failed' && !started(t, t.try_number)) failedWithoutStarting++;
    const mine = startsOf.get(key(t)) ?? [];
    maxExecutions = Math.max(maxExecutions, mine.length);
    if (mine.length > 1) {
      repeated++;
      // Every start but the kept try's (its last, if that try ran twice on one process).
      const keptAt = mine.findLastIndex((s) => s.try_number === t.kept_try && s.pid === t.pid);
      for (const [i, s] of mine.entries()) if (i !== keptAt) repeatedOn.add(s.pid);
    }
  }
  const completions = effects.filter((e) => !o.pids || o.pids.includes(e.pid)).map((e) => e.at.getTime());
  const figures: FaultFigures = {
    scenario,
    runsExpected: o.runsExpected,
    runsSucceeded: runs.filter((r) => r.state === 'success').length,
    duplicateRuns: [...dates.values()].filter((n) => n > 1).length,
    maxExecutions,
    repeated,
    repeatedOn: [...repeatedOn].sort(),
    failedWithoutStarting,
    longestPauseS: seconds(longestGap(completions, o.window)),
  };
  if (o.runStartGap) {
    figures.longestRunStartGapS = seconds(
      longestGap(
        runs.filter((r) => r.started_at !== null).map((r) => new Date(r.started_at!).getTime()),
        o.window,
      ),
    );
  }
  const on =
    figures.repeatedOn.length === 0
      ? ''
      : figures.repeatedOn.length === 1
        ? `, all on pid ${figures.repeatedOn[0]}`
        : `, on pids ${figures.repeatedOn.join(', ')}`;
  console.info(
    `fault ${scenario}: runs expected ${figures.runsExpected} / succeeded ${figures.runsSucceeded}; executions per task max ${figures.maxExecutions} ` +
      `(tasks run more than once: ${figures.repeated}${on}); failed without starting: ${figures.failedWithoutStarting}; ` +
      `longest pause in completions ${figures.longestPauseS} s` +
      (figures.longestRunStartGapS === undefined
        ? ''
        : `; longest gap between run starts ${figures.longestRunStartGapS} s`),
  );
  if (process.env.FAULT_REPORT)
    await appendFile(process.env.FAULT_REPORT, `${JSON.stringify({ ...figures, at: new Date().toISOString() })}\n`);
  return figures;
}

export interface Soundness {
  /** Processes the fault struck: only they may have run a task more than once. */
  faulted?: readonly number[];
  /** Upper bound on the longest pause in completions (s). */
  pauseS?: number;
  /** Upper bound on the longest gap between run starts (s). */
  runStartGapS?: number;
}

/** What every scenario must show: all runs succeeded, once each; no try lost without starting; repeats only where the fault struck. */
export function expectSound(f: FaultFigures, s: Soundness = {}): void {
  expect({
    succeeded: f.runsSucceeded,
    duplicateRuns: f.duplicateRuns,
    failedWithoutStarting: f.failedWithoutStarting,
  }).toEqual({
    succeeded: f.runsExpected,
    duplicateRuns: 0,
    failedWithoutStarting: 0,
  });
  const faulted = s.faulted ?? [];
  expect(f.maxExecutions).toBeLessThanOrEqual(faulted.length === 0 ? 1 : 2);
  expect(f.repeatedOn.filter((pid) => !faulted.includes(pid))).toEqual([]);
  if (s.pauseS !== undefined) expect(f.longestPauseS).toBeLessThanOrEqual(s.pauseS);
  if (s.runStartGapS !== undefined) expect(f.longestRunStartGapS).toBeLessThanOrEqual(s.runStartGapS);
}

/**
 * Fencing: of the tasks a faulted process held (key: when the fault struck), those whose
 * kept result is of a try that had started before the fault: a result the process sent
 * after it resumed, which must have been refused. A try claimed anew after the fault may
 * be kept, even on that process.
 */
export function keptFromBefore(tasks: TaskRow[], starts: Mark[], held: ReadonlyMap<string, number>): string[] {
  return tasks.flatMap((t) => {
    const struckAt = held.get(key(t));
    if (struckAt === undefined) return [];
    const keptStart = Math.max(
      ...starts
        .filter((s) => key(s) === key(t) && s.try_number === t.kept_try && s.pid === t.pid)
        .map((s) => s.at.getTime()),
    );
    return keptStart < struckAt ? [`${key(t)}: kept try ${t.kept_try} of pid ${t.pid}, started before the fault`] : [];
  });
}

/**
 * Tries started by a process that no longer held them: a start later than the start of its
 * task's kept try (a try that goes on after it was taken over is not started again, so
 * only a zombie starts then). Listed with each start's pid, try and time.
 */
export function startedAfterKept(tasks: TaskRow[], starts: Mark[]): string[] {
  const byTask = new Map<string, Mark[]>();
  for (const s of starts) byTask.set(key(s), [...(byTask.get(key(s)) ?? []), s]);
  return tasks.flatMap((t) => {
    const mine = byTask.get(key(t)) ?? [];
    const keptAt = mine.findLastIndex((s) => s.try_number === t.kept_try && s.pid === t.pid);
    if (keptAt < 0) return [];
    const late = mine.filter((s, i) => i !== keptAt && s.at.getTime() > mine[keptAt]!.at.getTime());
    const show = (s: Mark) => `try ${s.try_number} pid ${s.pid} at ${s.at.toISOString()}`;
    return late.length === 0
      ? []
      : [`${key(t)}: kept ${show(mine[keptAt]!)}, then started ${late.map(show).join(', ')}`];
  });
}
