/**
 * Completing tries: the one transition by which a try's end (success, skip, failure, retry,
 * reschedule) is recorded, and everything that follows from it in the same transaction.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb, type Tx } from '../db/execute.js';
import { notify } from '../db/notify.js';
import { claimWithin, type ClaimedTask, type ClaimRequest } from './tries.js';
import { recordDatasetEvents, type OutletUpdate } from '../db/sql/dataset-events.js';
import { insertLogs } from '../db/sql/insert-logs.js';
import { recordTryEnds } from '../db/sql/record-try-ends.js';
import { writeOperatorState } from '../operators/state.js';
import type { Effects } from '../operators/types.js';
import { queueCallbackRequests } from './callback-requests.js';
import type { DagCache, DagStructure } from './dag-cache.js';
import { evaluateDownstream, type StateChange } from './decide.js';
import { type FinishedRun, finishRunIfDone } from './finish-run.js';
import type { TaskState } from './vocabulary.js';

/** The states a try can end in. */
export type FinalState = Extract<TaskState, 'success' | 'skipped' | 'failed' | 'up_for_retry' | 'up_for_reschedule'>;

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  at: number;
}

/** The end of one try, as reported by whoever ran it. */
export interface TaskResult {
  taskInstanceId: string;
  /** The claim's fencing token and try: a result is accepted only while both still hold. */
  lease: string;
  tryNumber: number;
  runRowId: string;
  taskId: string;
  /** -1, or the instance's index in a mapped task. */
  mapIndex?: number;
  versionId: string;
  state: FinalState;
  /** A branch's success: the direct downstream tasks it follows; the others are skipped. */
  followed?: string[];
  error?: string;
  /** With up_for_retry: when the next try may start; with up_for_reschedule: the next poke. */
  nextTryAt?: Date;
  /** With up_for_reschedule: the sensor's first poke of this try (its timeout counts from it). */
  sensorStartedAt?: Date;
  /** The XCom; undefined stores none. */
  result?: unknown;
  logs: LogLine[];
  /** Kept with a success, in the same transaction: operator state and a report. */
  effects?: Effects & { dagId: string };
  /** When the try's thread took it and when it ended (epoch ms), as the executor saw them. */
  startedAt?: number;
  endedAt?: number;
}

export interface CompletionReport {
  refused: TaskResult[];
  changes: StateChange[];
  /** Task instances made ready by these results. */
  scheduled: number;
  finishedRuns: FinishedRun[];
  /** Tasks claimed in the same transaction (see `claim`). */
  claimed: ClaimedTask[];
  /** How many the claim asked for (0: no claim); fewer claimed means none was left to claim. */
  claimAsked: number;
  /** The claim found another claimer holding the claim lock: the caller claims again shortly. */
  claimBusy?: boolean;
  /** With `queueCallbacks`: callbacks queued in callback_requests for executors to run. */
  callbacksQueued?: number;
}

export interface CompletionOptions {
  /**
   * NOTIFY updraft_state (live pages) when states changed and no other channel says so.
   * Default true; the executor announces its changes itself, at most every 200 ms.
   */
  announceState?: boolean;
  /**
   * Queue the callbacks of these ends in callback_requests (docs/callbacks.md): for ends
   * decided away from an executor (the reaper). An executor runs its own at once.
   */
  queueCallbacks?: boolean;
}

/**
 * Records the ends of many tries in one transaction: states (fenced by lease and try
 * number), XComs, log lines; then evaluates only the downstream tasks of what
 * changed, cascading skips and upstream failures, and ends runs whose tasks are all
 * done. The runs involved are locked first, so two processes finishing tasks of the
 * same run cannot both miss a join that needs both of them.
 */
export async function completeTries(
  db: Db,
  cache: DagCache,
  results: readonly TaskResult[],
  claim?: ClaimRequest,
  options: CompletionOptions = {},
): Promise<CompletionReport> {
  if (results.length === 0)
    return { refused: [], changes: [], scheduled: 0, finishedRuns: [], claimed: [], claimAsked: 0 };
  return db.transaction(async (tx) => {
    const runIds = [...new Set(results.map((r) => r.runRowId))].sort();
    const xcoms = results.filter((r) => r.result !== undefined).map((r) => ({ id: r.taskInstanceId, value: r.result }));
    const acceptedIds = await recordTryEnds(
      tx,
      runIds,
      results.map((r) => ({
        id: r.taskInstanceId,
        lease: r.lease,
        try_number: r.tryNumber,
        state: r.state,
        error: r.error ?? null,
        next_try_at: r.nextTryAt ?? null,
        started_at: r.startedAt === undefined ? null : new Date(r.startedAt),
        ended_at: r.endedAt === undefined ? null : new Date(r.endedAt),
        sensor_started_at: r.sensorStartedAt ?? null,
      })),
      xcoms,
    );
    const recorded = await alreadyRecorded(
      tx,
      results.filter((r) => !acceptedIds.has(r.taskInstanceId)),
    );
    const refused = results.filter((r) => !acceptedIds.has(r.taskInstanceId) && !recorded.has(r));
    const kept = results.filter((r) => acceptedIds.has(r.taskInstanceId));
    await storeEffects(tx, kept);
    const logs = results.flatMap((r) => {
      const lines = r.logs.map((l) => ({
        id: r.taskInstanceId,
        try_number: r.tryNumber,
        at: new Date(l.at),
        level: l.level,
        message: l.message,
      }));
      if (recorded.has(r)) return [];
      if (!acceptedIds.has(r.taskInstanceId)) {
        lines.push({
          id: r.taskInstanceId,
          try_number: r.tryNumber,
          at: new Date(),
          level: 'warn',
          message: `result of try ${r.tryNumber} (${r.state}) refused: this try no longer owns the task instance`,
        });
      }
      return lines;
    });
    if (logs.length > 0) await insertLogs(tx, logs);

    const report: CompletionReport = {
      refused,
      changes: kept.map((r) => ({
        runRowId: r.runRowId,
        taskId: r.taskId,
        ...(r.mapIndex !== undefined && r.mapIndex >= 0 ? { mapIndex: r.mapIndex } : {}),
        state: r.state,
      })),
      scheduled: 0,
      finishedRuns: [],
      claimed: [],
      claimAsked: 0,
    };
    const byRun = new Map<string, TaskResult[]>();
    for (const r of kept) byRun.set(r.runRowId, [...(byRun.get(r.runRowId) ?? []), r]);
    const outletUpdates: OutletUpdate[] = [];
    for (const [runRowId, runResults] of byRun) {
      const structure = await cache.get(runResults[0]!.versionId, tx);
      // Only a real success updates datasets (not a skip, nor a task marked success by hand).
      for (const r of runResults) {
        if (r.state !== 'success') continue;
        for (const uri of structure.tasks.get(r.taskId)?.outlets ?? [])
          outletUpdates.push({ uri, taskInstanceId: r.taskInstanceId, taskId: r.taskId, tryNumber: r.tryNumber });
      }
      const changes = await evaluateDownstream(
        tx,
        runRowId,
        structure,
        new Map(runResults.map((r) => [r.taskId, r.state])),
        notFollowed(structure, runResults),
      );
      report.changes.push(...changes);
      const scheduled = changes.filter((c) => c.state === 'scheduled').length;
      report.scheduled += scheduled;
      // A run with newly scheduled tasks cannot be over yet.
      if (scheduled === 0) {
        const finished = await finishRunIfDone(tx, runRowId, structure);
        if (finished) report.finishedRuns.push({ runRowId, dagId: structure.dagId, ...finished });
      }
    }
    // Dataset events go with the successes they report; a consumer's run is the schedulers' news.
    const datasetEvents = await recordDatasetEvents(tx, outletUpdates);
    if (options.queueCallbacks)
      report.callbacksQueued = await queueCallbackRequests(tx, cache, kept, report.finishedRuns);
    // Claiming what just became ready in this same transaction saves the executor a round
    // trip and a commit per task of a chain (bench/engine, chain of 40 on PostgreSQL: 0.44 s
    // with a separate claim and running update, see docs/performance.md). One more than
    // that is asked for: fewer claimed tells the executor that nothing else is waiting, so
    // it need not look again (a claim that found nothing was 2 of a chain task's 12
    // statements: test/integration/engine-statements.test.ts). Claiming here whatever waits,
    // up to the executor's room, was faster for one worker but let it keep a pool's every
    // slot from the others (bench/scale.ts: shares of 6,000 / 0).
    if (claim && claim.limit > 0 && report.scheduled > 0) {
      report.claimAsked = Math.min(claim.limit, report.scheduled + 1);
      const claimed = await claimWithin(tx, { ...claim, limit: report.claimAsked });
      report.claimed = claimed.tasks;
      report.claimBusy = claimed.busy;
    }
    // One NOTIFY per transaction: work left unclaimed here wakes executors; ended runs and
    // new retries wake schedulers (payload 'runs' when both); otherwise states still changed,
    // which only live pages want to hear (updraft_state). Live pages listen to all three.
    const schedulerNews =
      report.finishedRuns.length > 0 ||
      datasetEvents > 0 ||
      kept.some((r) => r.state === 'up_for_retry' || r.state === 'up_for_reschedule');
    const claimedHere = new Set(report.claimed.map((c) => `${c.run_row_id} ${c.task_id} ${c.map_index}`));
    const leftUnclaimed = report.changes.some(
      (c) => c.state === 'scheduled' && !claimedHere.has(`${c.runRowId} ${c.taskId} ${c.mapIndex ?? -1}`),
    );
    if (leftUnclaimed) {
      await notify(tx, 'work', schedulerNews ? 'runs' : '');
    } else if (schedulerNews) {
      await notify(tx, 'runs');
    } else if (kept.length > 0 && (options.announceState ?? true)) {
      await notify(tx, 'state');
    }
    return report;
  });
}

/**
 * Results sent again whose first sending was committed after all: its reply was lost (a
 * connection reset after COMMIT), so the sender could not know. The row still has the
 * try's lease and number and the state the result gave it; nothing more is done with
 * them, and they are not refused (no warning that the try lost its task instance).
 */
async function alreadyRecorded(tx: Tx, unaccepted: readonly TaskResult[]): Promise<Set<TaskResult>> {
  if (unaccepted.length === 0) return new Set();
  const { rows } = await execute<{ id: string }>(
    tx,
    sql`select ti.id from task_instances ti
          join jsonb_to_recordset(${jsonb(unaccepted.map((r) => ({ id: r.taskInstanceId, lease: r.lease, try_number: r.tryNumber, state: r.state })))})
               as v(id uuid, lease uuid, try_number int, state text)
            on ti.id = v.id and ti.lease = v.lease and ti.try_number = v.try_number and ti.state::text = v.state`,
  );
  const ids = new Set(rows.map((r) => r.id));
  return new Set(unaccepted.filter((r) => ids.has(r.taskInstanceId)));
}

/** Operator state and reports of accepted successes: kept only if the try's result is. */
async function storeEffects(tx: Tx, kept: readonly TaskResult[]): Promise<void> {
  const withEffects = kept
    .filter((r) => r.effects && r.state === 'success')
    .sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
  if (withEffects.length === 0) return;
  await writeOperatorState(
    tx,
    withEffects.flatMap((r) =>
      Object.entries(r.effects!.state ?? {}).map(([key, value]) => ({
        dagId: r.effects!.dagId,
        taskId: r.taskId,
        key,
        value,
      })),
    ),
  );
  const reports = withEffects
    .filter((r) => r.effects!.report)
    .map((r) => ({ id: r.taskInstanceId, try_number: r.tryNumber, ...r.effects!.report! }));
  if (reports.length > 0) {
    await execute(
      tx,
      sql`insert into reports (task_instance_id, dag_id, run_id, task_id, try_number, format, title, content, rows)
          select v.id, d.dag_id, r.run_id, ti.task_id, v.try_number, v.format, v.title, v.content, v.rows
            from jsonb_to_recordset(${jsonb(reports)}) as v(id uuid, try_number int, format text, title text, content text, rows int)
            join task_instances ti on ti.id = v.id join dag_runs r on r.id = ti.run_id join dags d on d.id = r.dag_id
          on conflict (task_instance_id, try_number) do nothing`,
    );
  }
}

/**
 * The direct downstream tasks of the branches among `results` that they did not follow:
 * skipped whatever their trigger rule (Airflow's SkipMixin.skip_all_except).
 */
function notFollowed(structure: DagStructure, results: readonly TaskResult[]): Set<string> {
  const skip = new Set<string>();
  for (const r of results) {
    if (r.state !== 'success' || !r.followed) continue;
    for (const down of structure.tasks.get(r.taskId)?.downstream ?? []) if (!r.followed.includes(down)) skip.add(down);
  }
  return skip;
}
