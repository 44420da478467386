import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb, type Tx } from '../db/execute.js';
import { claimWithin, type ClaimedTask, type ClaimRequest } from '../db/sql/claim-tasks.js';
import { recordDatasetEvents, type OutletUpdate } from '../db/sql/dataset-events.js';
import type { DagCache, DagStructure, TaskNode } from './dag-cache.js';
import { expandMapped, groupStates, undecided, type KnownStates } from './mapping.js';
import type { Effects } from '../executor/protocol.js';
import { writeOperatorState } from '../operators/state.js';
import { runState } from './run-state.js';
import { queueCallbackRequests } from './callback-requests.js';
import { countUpstream, decide, type TaskState } from './trigger-rules.js';
import type { TriggerRule } from '../dag/types.js';
import { FAILED_TASK_STATES, FINISHED_TASK_STATES, stateList, unfinishedPredicate } from '../state/vocabulary.js';
import { notify } from '../db/notify.js';

export type FinalState = 'success' | 'skipped' | 'failed' | 'up_for_retry' | 'up_for_reschedule';

/**
 * Unfinished task instances, word for word the predicate of the partial index
 * task_instances_unfinished_idx (src/db/schema.ts): the planner uses the index only for
 * a query that repeats it. It names the finished states, so up_for_reschedule is in it.
 * (EXPLAIN ANALYZE on PostgreSQL 15, 100,000 task instances of which 3 unfinished, custom
 * and generic plans: both of finishRunIfDone's probes scan task_instances_unfinished_idx,
 * `moving` filtering `state is not null`; 0.05 ms.)
 */
export const UNFINISHED_SQL = sql.raw(`(${unfinishedPredicate('state')})`);

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  at: number;
}

/** A run that ended: `runRowId` is its row, `runId` the id users see ('scheduled__2026-...'). */
export interface FinishedRun {
  runRowId: string;
  runId: string;
  dagId: string;
  state: 'success' | 'failed';
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

/** A task instance whose state changed, for live displays. */
export interface StateChange {
  runRowId: string;
  taskId: string;
  /** Set for the instances of a mapped task. */
  mapIndex?: number;
  state: TaskState;
}

export interface FinishReport {
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

/**
 * Records the ends of many tries in one transaction: states (fenced by lease and try
 * number), XComs, log lines; then evaluates only the downstream tasks of what
 * changed, cascading skips and upstream failures, and ends runs whose tasks are all
 * done. The runs involved are locked first, so two processes finishing tasks of the
 * same run cannot both miss a join that needs both of them.
 */
export interface FinishOptions {
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

export async function finishTasks(
  db: Db,
  cache: DagCache,
  results: readonly TaskResult[],
  claim?: ClaimRequest,
  options: FinishOptions = {},
): Promise<FinishReport> {
  if (results.length === 0)
    return { refused: [], changes: [], scheduled: 0, finishedRuns: [], claimed: [], claimAsked: 0 };
  return db.transaction(async (tx) => {
    const runIds = [...new Set(results.map((r) => r.runRowId))].sort();
    const xcoms = results.filter((r) => r.result !== undefined).map((r) => ({ id: r.taskInstanceId, value: r.result }));
    // One statement: lock the runs (in id order, so finishers never deadlock), the fenced
    // update, and the XComs of the tries it accepted (one statement fewer per completion
    // than a separate insert: test/integration/engine-statements.test.ts).
    const { rows: accepted } = await execute<{ id: string }>(
      tx,
      sql`with locked as (
            select id from dag_runs where id in (select value::uuid from jsonb_array_elements_text(${jsonb(runIds)})) order by id for update
          ), done as (
          update task_instances ti
             set state = v.state::task_state, error = v.error, next_try_at = v.next_try_at, owner = null, updated_at = now(),
                 started_at = coalesce(v.started_at, ti.started_at), ended_at = coalesce(v.ended_at, now()),
                 -- A rescheduled sensor keeps its first poke's time, which also tells the next claim
                 -- not to use up a try (claim-tasks.ts); any other end forgets it.
                 sensor_started_at = case when v.state = 'up_for_reschedule' then coalesce(ti.sensor_started_at, v.sensor_started_at) end
            from jsonb_to_recordset(${jsonb(
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
            )}) as v(id uuid, lease uuid, try_number int, state text, error text, next_try_at timestamptz, started_at timestamptz, ended_at timestamptz,
                     sensor_started_at timestamptz)
           where ti.id = v.id and ti.lease = v.lease and ti.try_number = v.try_number and ti.state in ('queued', 'running')
             and ti.run_id in (select id from locked)
          returning ti.id
          ), stored as (
            -- v -> 'value', not jsonb_to_recordset: that reads a JSON null as SQL NULL, and a
            -- task that returned null stores the JSON null (one that returned undefined stores nothing).
            insert into xcom (task_instance_id, value)
            select (v ->> 'id')::uuid, v -> 'value' from jsonb_array_elements(${jsonb(xcoms)}) as v
             where (v ->> 'id')::uuid in (select id from done)
            on conflict (task_instance_id, key) do update set value = excluded.value, created_at = now()
          )
          select id from done`,
    );
    const acceptedIds = new Set(accepted.map((r) => r.id));
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

    const report: FinishReport = {
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

export async function insertLogs(
  tx: Tx | Db,
  lines: { id: string; try_number: number; at: Date; level: string; message: string }[],
): Promise<void> {
  await execute(
    tx,
    sql`insert into task_logs (task_instance_id, try_number, at, level, message)
        select v.id, v.try_number, v.at, v.level, v.message
          from jsonb_to_recordset(${jsonb(lines)}) as v(id uuid, try_number int, at timestamptz, level text, message text)`,
  );
}

const READY: ReadonlySet<TaskState | null> = new Set(FINISHED_TASK_STATES);

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

/**
 * Decides the tasks downstream of `changed` that are still in state none, and
 * their downstream in turn when they are skipped or upstream_failed. Reads only
 * the states it needs, never the whole run. `skip`: tasks a branch did not follow.
 * A mapped task counts every instance, as Airflow counts each expanded one.
 */
export async function evaluateDownstream(
  tx: Tx,
  runRowId: string,
  structure: DagStructure,
  changed: Map<string, TaskState | null>,
  skip: ReadonlySet<string> = new Set(),
): Promise<StateChange[]> {
  // A mapped task's other instances are read, not taken from this one's end.
  const known: KnownStates = new Map(
    [...changed].filter(([id]) => !structure.tasks.get(id)?.mapped).map(([id, state]) => [id, [state]]),
  );
  const updates: StateChange[] = [];
  let pending = new Set([...changed.keys()].flatMap((id) => structure.tasks.get(id)?.downstream ?? []));
  while (pending.size > 0) {
    const missing = new Set<string>();
    for (const id of pending) {
      if (!known.has(id)) missing.add(id);
      for (const up of structure.tasks.get(id)!.upstream) if (!known.has(up)) missing.add(up);
    }
    if (missing.size > 0) {
      const { rows } = await execute<{ task_id: string; state: TaskState | null }>(
        tx,
        sql`select task_id, state from task_instances
             where run_id = ${runRowId} and task_id in (select jsonb_array_elements_text(${jsonb([...missing])}))`,
      );
      groupStates(rows, known);
    }
    const next = new Set<string>();
    for (const id of pending) {
      if (!undecided(known.get(id))) continue;
      const task = structure.tasks.get(id)!;
      const state = skip.has(id) ? 'skipped' : stateFor(task, known);
      if (state === undefined) continue;
      const decided = await decideTask(tx, runRowId, structure, task, state, known, updates);
      if (READY.has(decided)) for (const down of task.downstream) next.add(down);
    }
    pending = next;
  }
  await applyDecisions(tx, runRowId, updates);
  return updates;
}

/** Decisions expandMapped has written already (expanded or failed mapped tasks). */
const written = new WeakSet<StateChange>();

/**
 * Records a task's decision in `known` and `updates`; a mapped task to run is expanded
 * first (src/scheduler/mapping.ts), which may settle it otherwise. Returns its state.
 */
export async function decideTask(
  tx: Tx,
  runRowId: string,
  structure: DagStructure,
  task: TaskNode,
  state: TaskState,
  known: KnownStates,
  updates: StateChange[],
): Promise<TaskState> {
  if (state !== 'scheduled' || !task.mapped) {
    known.set(task.id, [state]);
    updates.push({ runRowId, taskId: task.id, state });
    return state;
  }
  const expansion = await expandMapped(tx, runRowId, structure, task);
  known.set(task.id, Array<TaskState>(expansion.count).fill(expansion.state));
  const changes: StateChange[] =
    expansion.state === 'scheduled'
      ? Array.from({ length: expansion.count }, (_, i) => ({
          runRowId,
          taskId: task.id,
          mapIndex: i,
          state: 'scheduled',
        }))
      : [{ runRowId, taskId: task.id, state: expansion.state }];
  // A skip is left to applyDecisions; expandMapped wrote the rest.
  if (expansion.state !== 'skipped') for (const c of changes) written.add(c);
  updates.push(...changes);
  return expansion.state;
}

/** Writes trigger-rule decisions of task instances still in state none (one statement). */
export async function applyDecisions(tx: Tx, runRowId: string, all: readonly StateChange[]): Promise<void> {
  const updates = all.filter((u) => !written.has(u));
  if (updates.length === 0) return;
  await execute(
    tx,
    sql`update task_instances ti
           set state = u.state::task_state, updated_at = now(),
               scheduled_at = case when u.state = 'scheduled' then now() else ti.scheduled_at end,
               ended_at = case when u.state = 'scheduled' then ti.ended_at else now() end
          from jsonb_to_recordset(${jsonb(updates.map((u) => ({ task_id: u.taskId, state: u.state })))}) as u(task_id text, state text)
         where ti.run_id = ${runRowId} and ti.task_id = u.task_id and ti.state is null`,
  );
}

/**
 * Ends the run when its tasks are all done (or can never move again), as Airflow derives it.
 * The caller holds the run's row lock.
 */
export async function finishRunIfDone(
  tx: Tx,
  runRowId: string,
  structure: DagStructure,
): Promise<{ state: 'success' | 'failed'; runId: string } | null> {
  // Both probes use the partial index over unfinished task instances, not the whole run
  // (they repeat its predicate; `moving` is an unfinished task with a state: scheduled,
  // queued, running, up_for_retry or up_for_reschedule).
  const { rows } = await execute<{ unfinished: boolean; moving: boolean }>(
    tx,
    sql`select exists (select 1 from task_instances where run_id = ${runRowId} and ${UNFINISHED_SQL}) as unfinished,
               exists (select 1 from task_instances where run_id = ${runRowId} and ${UNFINISHED_SQL} and state is not null) as moving`,
  );
  const { unfinished, moving } = rows[0]!;
  if (moving) return null;
  let state: 'success' | 'failed' | null;
  if (!unfinished) {
    const { rows: failed } = await execute<{ failed: boolean }>(
      tx,
      sql`select exists (select 1 from task_instances where run_id = ${runRowId} and state in ${sql.raw(stateList(FAILED_TASK_STATES))}
                            and task_id in (select jsonb_array_elements_text(${jsonb([...structure.leaves])}))) as failed`,
    );
    state = failed[0]!.failed ? 'failed' : 'success';
  } else {
    // Unfinished tasks and nothing moving: a deadlock, or tasks whose decision is still to come.
    const { rows: all } = await execute<{ task_id: string; state: TaskState | null }>(
      tx,
      sql`select task_id, state from task_instances where run_id = ${runRowId}`,
    );
    const derived = runState(
      all.map((t) => ({ taskId: t.task_id, state: t.state })),
      structure.leaves,
      structure.deps,
    );
    state = derived === 'running' ? null : derived;
  }
  if (!state) return null;
  // The run id users see comes back for the log line; a run already ended by hand is read.
  const { rows: ended } = await execute<{ run_id: string }>(
    tx,
    sql`update dag_runs set state = ${state}, ended_at = now() where id = ${runRowId} and state = 'running' returning run_id`,
  );
  const runId =
    ended[0]?.run_id ??
    (await execute<{ run_id: string }>(tx, sql`select run_id from dag_runs where id = ${runRowId}`)).rows[0]!.run_id;
  return { state, runId };
}

/** What a task with no state becomes given its upstream tasks' states (`known`); undefined: it waits. */
export function stateFor(
  task: { triggerRule: TriggerRule; upstream: readonly string[] },
  known: ReadonlyMap<string, readonly (TaskState | null)[]>,
): TaskState | undefined {
  const decision = decide(task.triggerRule, countUpstream(task.upstream.flatMap((up) => known.get(up) ?? [null])));
  if (decision === 'wait') return undefined;
  return decision === 'run' ? 'scheduled' : decision === 'skip' ? 'skipped' : 'upstream_failed';
}
