/**
 * Runs the callbacks of what an executor has just committed (docs/callbacks.md): a task's
 * onSuccess / onRetry / onFailure for each try whose end was accepted, and a DAG's run
 * onSuccess / onFailure for each run the commit ended. Each is a job of the task pool,
 * after the commit: the state is already stored, so a callback can never change it, and a
 * slow one holds back neither the task's downstream nor the next commit. Their errors,
 * and a callback cut off by its timeout (the task's timeout, or 60 s), are logged (the
 * task's log and the process log; for a run, the process log and dag_runs.callback_error),
 * never thrown. Tasks and DAGs without callbacks never get here: the executor checks the
 * stored list of callbacks first, so they cost nothing.
 */
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute } from '../db/execute.js';
import { CALLBACK_OPTION, CALLBACK_TIMEOUT_MS, eventOfState, type CallbackEvent } from '../dag/callbacks.js';
import { resolveParams } from '../dag/params.js';
import type { ClaimedTask } from '../state/tries.js';
import type { EngineBus } from '../state/bus.js';
import type { DagStructure } from '../state/dag-cache.js';
import { insertLogs } from '../db/sql/insert-logs.js';
import type { LogLine, TaskResult } from '../state/complete-tries.js';
import type { TaskPool } from './pool.js';
import type { CallbackCall, Question, TaskPayload } from './protocol.js';
import { toStorableText } from '../util/json-result.js';
import { takeCallbackRequests } from '../state/callback-requests.js';
import type { DagCache } from '../state/dag-cache.js';

/** A committed try, with what its callback needs to know. */
export interface CommittedTry {
  result: TaskResult;
  claim: ClaimedTask;
  structure: DagStructure;
}

/** Queued callbacks taken per statement. */
const TAKE_BATCH = 50;
/** How often an executor looks for callbacks queued by a reaper in another process. */
export const TAKE_INTERVAL_MS = 30_000;

/** A run a commit ended, with the DAG version it ran. */
export interface EndedRun {
  runRowId: string;
  state: 'success' | 'failed';
  structure: DagStructure;
}

export interface CallbackRunnerOptions {
  dagsFolder: string;
  /** Answers a callback's ctx.pull (and an operator's questions) as for the try. */
  answer: (claim: ClaimedTask, structure: DagStructure, question: Question) => Promise<unknown>;
  /** A pool thread is free again (the executor may start a waiting try). */
  freed: () => void;
}

export class CallbackRunner {
  readonly #active = new Set<Promise<void>>();
  #taking: Promise<void> | undefined;
  /** Cancels the callbacks still running when a stopping process's grace is over. */
  readonly #stop = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly pool: TaskPool,
    private readonly bus: EngineBus,
    private readonly options: CallbackRunnerOptions,
  ) {}

  /** The task callback a committed try calls for, if its task has one for its state. */
  static eventFor(t: CommittedTry): CallbackEvent | undefined {
    const events = t.structure.tasks.get(t.result.taskId)?.callbacks;
    if (!events) return undefined;
    const event = eventOfState(t.result.state);
    return event && events.includes(event) ? event : undefined;
  }

  /** Starts the callbacks of a commit: `tries` accepted, `runs` ended (with the version they ran). */
  afterCommit(tries: readonly CommittedTry[], runs: readonly EndedRun[]): void {
    for (const t of tries) {
      const event = CallbackRunner.eventFor(t);
      if (event) this.track(this.runTaskCallback(t, event));
    }
    for (const run of runs) {
      const event = run.state === 'success' ? 'success' : 'failure';
      if (run.structure.serialized.runCallbacks?.includes(event))
        this.track(this.runRunCallback(run.runRowId, event, run.structure));
    }
  }

  /**
   * Takes the callbacks queued in callback_requests (ends the reaper decided) and runs
   * them. On the reaper's in-process event, when the executor starts, and every
   * TAKE_INTERVAL_MS for reapers in other processes: one statement, whatever the DAGs.
   */
  takeQueued(cache: DagCache): Promise<void> {
    this.#taking ??= this.take(cache).finally(() => (this.#taking = undefined));
    return this.#taking;
  }

  private async take(cache: DagCache): Promise<void> {
    try {
      for (;;) {
        const requests = await takeCallbackRequests(this.db, TAKE_BATCH);
        const tries: CommittedTry[] = [];
        const runs: EndedRun[] = [];
        for (const q of requests) {
          const structure = await cache.get(q.dag_version_id);
          if (q.task_instance_id === null) {
            runs.push({ runRowId: q.run_row_id, state: q.state as EndedRun['state'], structure });
            continue;
          }
          const claim = {
            id: q.task_instance_id,
            task_id: q.task_id!,
            try_number: q.try_number!,
            max_tries: q.max_tries!,
            run_row_id: q.run_row_id,
            run_id: q.run_id,
            dag_version_id: q.dag_version_id,
            logical_date: new Date(q.logical_date),
            interval_start: new Date(q.interval_start),
            interval_end: new Date(q.interval_end),
            conf: q.conf,
          } as ClaimedTask;
          const result = {
            taskId: q.task_id!,
            state: q.state,
            error: q.error ?? undefined,
            nextTryAt: q.next_try_at ? new Date(q.next_try_at) : undefined,
          } as TaskResult;
          tries.push({ result, claim, structure });
        }
        this.afterCommit(tries, runs);
        if (requests.length < TAKE_BATCH) break;
      }
    } catch (error) {
      this.bus.emit('error', error as Error);
    }
  }

  /**
   * Settles once every callback started so far has ended (each is bounded by its timeout).
   * With `graceMs` (the process is stopping), those still running after it are cancelled.
   */
  async idle(graceMs?: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    if (graceMs !== undefined && this.#active.size > 0)
      timer = setTimeout(() => this.#stop.abort('the process is stopping'), graceMs);
    await this.#taking;
    while (this.#active.size > 0) await Promise.all([...this.#active]);
    clearTimeout(timer);
  }

  private track(job: Promise<void>): void {
    const tracked = job
      .catch((error: Error) => {
        this.bus.emit('error', error);
      })
      .finally(() => {
        this.#active.delete(tracked);
        this.options.freed();
      });
    this.#active.add(tracked);
  }

  private async runTaskCallback({ result, claim, structure }: CommittedTry, event: CallbackEvent): Promise<void> {
    const name = CALLBACK_OPTION[event];
    const task = structure.tasks.get(claim.task_id)!;
    const logs: LogLine[] = [{ level: 'info', message: `running the ${name} callback`, at: Date.now() }];
    const call: CallbackCall = {
      kind: 'task',
      event,
      info: {
        state: result.state as 'success' | 'up_for_retry' | 'failed',
        ...(result.error !== undefined ? { error: result.error } : {}),
        tryNumber: claim.try_number,
        maxTries: claim.max_tries,
        ...(result.nextTryAt ? { nextTryAt: result.nextTryAt.toISOString() } : {}),
      },
    };
    const outcome = await this.pool.run(this.payload(structure, claim, claim.task_id, claim.try_number, call), {
      timeoutMs: task.timeoutMs ?? CALLBACK_TIMEOUT_MS,
      signal: this.#stop.signal,
      onLog: (line) => logs.push({ level: line.level, message: toStorableText(line.message), at: line.at }),
      onAsk: (question) => this.options.answer(claim, structure, question),
    });
    if (outcome.status === 'failed') {
      const why = `${name} callback failed: ${outcome.error} (the task stays ${result.state})`;
      logs.push({
        level: 'error',
        message: toStorableText(outcome.stack ? `${why}\n${outcome.stack}` : why),
        at: Date.now(),
      });
      this.bus.emit(
        'error',
        new Error(`${structure.dagId}.${claim.task_id} (run ${claim.run_id}, try ${claim.try_number}): ${why}`),
      );
    }
    await insertLogs(
      this.db,
      logs.map((l) => ({
        id: claim.id,
        try_number: claim.try_number,
        at: new Date(l.at),
        level: l.level,
        message: l.message,
      })),
    );
    this.bus.emit('callback:ended', {
      dagId: structure.dagId,
      runRowId: claim.run_row_id,
      taskId: claim.task_id,
      tryNumber: claim.try_number,
      callback: name,
      ...(outcome.status === 'failed' ? { error: outcome.error } : {}),
    });
  }

  private async runRunCallback(runRowId: string, event: 'success' | 'failure', structure: DagStructure): Promise<void> {
    const name = CALLBACK_OPTION[event];
    const { rows } = await execute<{
      run_id: string;
      logical_date: Date;
      interval_start: Date;
      interval_end: Date;
      conf: Record<string, unknown>;
      failed: string[];
    }>(
      this.db,
      sql`select r.run_id, r.logical_date, r.interval_start, r.interval_end, r.conf,
                 coalesce((select jsonb_agg(distinct ti.task_id order by ti.task_id) from task_instances ti
                            where ti.run_id = r.id and ti.state = 'failed'), '[]'::jsonb) as failed
            from dag_runs r where r.id = ${runRowId}`,
    );
    const run = rows[0];
    if (!run) return;
    const label = `${structure.dagId} run ${run.run_id}`;
    const claim = {
      run_id: run.run_id,
      logical_date: new Date(run.logical_date),
      interval_start: new Date(run.interval_start),
      interval_end: new Date(run.interval_end),
      conf: run.conf,
    } as ClaimedTask;
    const call: CallbackCall = {
      kind: 'run',
      event,
      info: { state: event === 'success' ? 'success' : 'failed', failedTasks: run.failed },
    };
    const outcome = await this.pool.run(this.payload(structure, claim, '', 0, call), {
      timeoutMs: CALLBACK_TIMEOUT_MS,
      signal: this.#stop.signal,
      onLog: (line) =>
        this.bus.emit('callback:log', {
          dagId: structure.dagId,
          runId: run.run_id,
          level: line.level,
          message: `${label}: ${name}: ${line.message}`,
        }),
    });
    const error = outcome.status === 'failed' ? toStorableText(`${name} callback failed: ${outcome.error}`) : null;
    if (error) this.bus.emit('error', new Error(`${label}: ${error}`));
    // Kept with the run for its page and `runs list`; a later callback that works clears it.
    await execute(
      this.db,
      sql`update dag_runs set callback_error = ${error} where id = ${runRowId} and callback_error is distinct from ${error}`,
    );
    this.bus.emit('callback:ended', {
      dagId: structure.dagId,
      runRowId,
      callback: name,
      ...(outcome.status === 'failed' ? { error: outcome.error } : {}),
    });
  }

  private payload(
    structure: DagStructure,
    claim: ClaimedTask,
    taskId: string,
    tryNumber: number,
    callback: CallbackCall,
  ): Omit<TaskPayload, 'port'> {
    let params: Record<string, unknown> = {};
    try {
      params = resolveParams(structure.serialized.params, claim.conf);
    } catch {
      // The try itself failed on this; its callback still runs, with the conf as given.
    }
    return {
      file: path.join(this.options.dagsFolder, structure.file),
      fileVersion: structure.hash,
      dagId: structure.dagId,
      taskId,
      runId: claim.run_id,
      taskInstanceId: claim.id ?? '',
      logicalDate: claim.logical_date.toISOString(),
      intervalStart: claim.interval_start.toISOString(),
      intervalEnd: claim.interval_end.toISOString(),
      tryNumber,
      maxTries: claim.max_tries ?? 0,
      params,
      conf: claim.conf,
      runType: claim.run_type,
      upstreamResults: {},
      callback,
    };
  }
}
