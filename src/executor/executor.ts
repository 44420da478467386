import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb } from '../db/execute.js';
import { describeDatabaseError, pgErrorCode } from '../db/errors.js';
import { claimTasks, recoverClaims, type ClaimedTask, type ClaimRequest } from '../db/sql/claim-tasks.js';
import { handBackTries } from '../db/sql/hand-back.js';
import { resolveParams } from '../dag/params.js';
import type { EngineBus } from '../engine/events.js';
import type { DagCache, DagStructure } from '../scheduler/dag-cache.js';
import { finishTasks, insertLogs, type FinishReport, type LogLine, type TaskResult } from '../scheduler/finish.js';
import { hasTriesLeft, retryDelayMs } from '../scheduler/retry.js';
import type { TaskPool } from './pool.js';
import { asStoredJson, toStorableText } from '../util/json-result.js';
import { connectionUrl } from '../connections/store.js';
import { readOperatorState } from '../operators/state.js';
import type { Question, TaskOutcome } from './protocol.js';
import { CallbackRunner, TAKE_INTERVAL_MS, type CommittedTry, type EndedRun } from './callbacks.js';

export interface ExecutorOptions {
  /** Identifies this process in task_instances.owner and in logs. */
  owner: string;
  queues: readonly string[];
  dagsFolder: string;
  /** How often the tasks this process holds are marked alive. */
  heartbeatMs: number;
  /**
   * After how long without a heartbeat a scheduler takes this process's tasks away
   * (UPDRAFT_HEARTBEAT_TIMEOUT). Cut off from the database that long, less one interval,
   * this process stops its tries rather than finishing them unseen. Default: never.
   */
  heartbeatTimeoutMs?: number;
  /**
   * Task instances held at once: running, plus claimed and waiting for a thread.
   * Default 64 per thread: claims and completions then move in batches instead of
   * one task per round trip (bench/engine, docs/performance.md).
   */
  maxInFlight?: number;
  /** Run only the tasks of this run (`updraft dags test`). */
  onlyRun?: string;
}

interface InFlight {
  claim: ClaimedTask;
  /** The run's version: its graph. */
  structure: DagStructure;
  /** The version whose code the try runs: the DAG's latest when it was claimed (claim.try_version_id). */
  code: DagStructure;
  logs: LogLine[];
  /** When its thread took it (epoch ms). */
  startedAt?: number;
  /** Aborts the try (its ctx.signal) when its task instance is taken from it. */
  abort: AbortController;
  /** Why the try was stopped from outside (the run was cancelled or marked). */
  revoked?: string;
  /** Settles when the try has ended and its outcome was handled; set when a thread takes it. */
  ended?: Promise<void>;
  /** Handed back by stop(): its outcome, whatever it is, is not this process's to record. */
  handedBack?: boolean;
  /** The try has ended and its result waits in #pending to be committed. */
  done?: boolean;
  /**
   * When its row was last known alive in the database (epoch ms, this process's clock): when
   * its claim was sent, then when the last heartbeat that reached it was sent. A scheduler
   * takes the try a heartbeat timeout after that at the earliest.
   */
  aliveAt: number;
}

/**
 * Claims ready task instances in batches and runs them in the task pool. Results are
 * group-committed: whatever finished while the previous commit ran goes into the next
 * one, so a busy pool commits many results per transaction and an idle one commits
 * each at once.
 */
export class Executor {
  /**
   * Tries running here, by lease: two tries of one task instance can be here at once
   * (the reaper gave the instance to a new try while the old one still ran), and each
   * must end on its own, the old one refused.
   */
  readonly #inFlight = new Map<string, InFlight>();
  #pending: TaskResult[] = [];
  #committing: Promise<void> | undefined;
  #pumping = false;
  #pumpAgain = false;
  #stopping = false;
  #heartbeat: NodeJS.Timeout | undefined;
  /** A heartbeat statement is under way: the next tick does not send another beside it. */
  #beating = false;
  /**
   * Tokens of claims that ended in an error (claim-tasks.ts, ClaimRequest.token), with when
   * each was sent: the database may have committed them anyway, the reply lost. Until a look at the database
   * settles them (settleClaims), this process may hold tries it does not know of.
   */
  readonly #unsettled = new Map<string, number>();
  /** Tries given up while the database was out of reach (abandonIfCutOff), to hand back once it is back. */
  #abandoned: InFlight[] = [];
  /** Another claimer held the claim lock: a look again is due (claimSoon). */
  #claimTimer: NodeJS.Timeout | undefined;
  #logFlush: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  /**
   * The writes to this process's task instances (mark running, heartbeat, completions), one
   * at a time. Side by side on two connections they locked the same rows in different orders
   * and deadlocked (SQLSTATE 40P01): 7 of 39 backfills of 365 runs lost 1-2 s to one
   * (bench/backfill.ts, PostgreSQL); one after the other, 0 of 10.
   */
  #writes: Promise<unknown> = Promise.resolve();
  #idle: (() => void) | undefined;
  readonly #toMarkRunning = new Set<InFlight>();
  #markTimer: NodeJS.Timeout | undefined;
  #announceTimer: NodeJS.Timeout | undefined;
  /**
   * Claimed tries waiting for a thread, highest priority first. They are handed to the
   * pool only when a thread is free: piscina's own queue is not FIFO (it rotates tries
   * it cannot start at once), so queued there they would start in any order.
   */
  readonly #waiting: { entry: InFlight; upstream: Record<string, unknown> }[] = [];
  /** Task and run callbacks of what this process commits (docs/callbacks.md). */
  readonly #callbacks: CallbackRunner;
  #takeCallbacksTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly cache: DagCache,
    private readonly pool: TaskPool,
    private readonly bus: EngineBus,
    private readonly options: ExecutorOptions,
  ) {
    this.#callbacks = new CallbackRunner(db, pool, bus, {
      dagsFolder: options.dagsFolder,
      answer: (claim, structure, question) => this.answer(claim, structure, question),
      freed: () => this.startWaiting(),
    });
  }

  get running(): number {
    return this.#inFlight.size;
  }

  private get capacity(): number {
    return (this.options.maxInFlight ?? this.pool.size * 64) - this.#inFlight.size;
  }

  private claimRequest(limit: number): ClaimRequest {
    return {
      owner: this.options.owner,
      queues: this.options.queues,
      limit,
      onlyRun: this.options.onlyRun,
      token: randomUUID(),
    };
  }

  /**
   * Runs `attempt`, a claim with `request`'s token. If it fails, whatever the error, the
   * claim may still have been committed (the reply to COMMIT lost with the connection): its
   * token waits to be settled (settleClaims), and a pump is due to do it.
   */
  private async claiming<T>(request: ClaimRequest, attempt: (sentAt: number) => Promise<T>): Promise<T> {
    const sentAt = Date.now();
    try {
      return await attempt(sentAt);
    } catch (error) {
      this.#unsettled.set(request.token, sentAt);
      this.claimSoon();
      throw error;
    }
  }

  /** Looks for work again in a moment: another claimer held the claim lock, or a claim is unsettled. */
  private claimSoon(): void {
    // Spread out, so that workers turned away together do not come back together.
    this.#claimTimer ??= setTimeout(
      () => {
        this.#claimTimer = undefined;
        this.wake();
      },
      50 + Math.random() * 150,
    );
  }

  /**
   * Finds what unsettled claims hold (claim-tasks.ts, recoverClaims) and runs it (or, while
   * stopping, hands it back): a claim committed without this process hearing of it would
   * otherwise stay queued under a live owner until it was reaped.
   */
  private async settleClaims(): Promise<void> {
    if (this.#unsettled.size === 0) return;
    const tokens = [...this.#unsettled.keys()];
    const sentAt = Math.min(...this.#unsettled.values());
    const found = (await recoverClaims(this.db, this.options.owner, tokens)).filter(
      (c) => !this.#inFlight.has(c.lease),
    );
    if (this.#stopping) await handBackTries(this.db, found, ['queued']);
    else if (found.length > 0) await this.dispatch(found, sentAt);
    for (const token of tokens) this.#unsettled.delete(token);
  }

  start(): void {
    this.bus.on('work', this.wake);
    // Callbacks the reaper queued (docs/callbacks.md); `dags test` runs only its own run's.
    if (this.options.onlyRun === undefined) {
      this.bus.on('callbacks', this.takeCallbacks);
      this.#takeCallbacksTimer = setInterval(this.takeCallbacks, TAKE_INTERVAL_MS);
      this.takeCallbacks();
    }
    // The cut-off check runs on the clock, not after the heartbeat: against an unreachable
    // database the heartbeat's statement may not end for a long time.
    this.#heartbeat = setInterval(() => {
      this.abandonIfCutOff();
      void this.heartbeat().then(() => this.handBackAbandoned());
    }, this.options.heartbeatMs);
    this.#logFlush = setInterval(() => void this.flushLogs(), 1_000);
    this.wake();
  }

  private readonly takeCallbacks = (): void => {
    if (!this.#stopping) void this.#callbacks.takeQueued(this.cache);
  };

  /** Looks for work now (called on events, NOTIFY and the safety-net poll). */
  readonly wake = (): void => {
    void this.pump();
  };

  private async pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      await this.settleClaims();
      do {
        this.#pumpAgain = false;
        const free = this.capacity;
        // Full: a finishing task wakes us again.
        if (free <= 0 || this.#stopping) break;
        // Enough claimed work still waits for threads: claim later, in one larger batch.
        // Claiming each freed slot at once degraded into one claim and one commit per
        // task (PGlite, 1,000 tasks: 1,001 claims, 12.7 s).
        if (this.#waiting.length >= this.pool.size) break;
        const request = this.claimRequest(free);
        const claimed = await this.claiming(request, async (sentAt) => {
          const claim = await claimTasks(this.db, request);
          if (claim.tasks.length > 0) await this.dispatch(claim.tasks, sentAt);
          return claim;
        });
        if (claimed.busy) this.claimSoon();
        // A full batch suggests more is waiting; a wake-up during the claim may have found nothing yet.
        else if (claimed.tasks.length === free) this.#pumpAgain = true;
      } while (this.#pumpAgain);
    } catch (error) {
      this.bus.emit('error', error as Error);
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Queues claimed tries for the threads with their upstream results. `sentAt`: when the
   * claim was sent. `known`: results of tries this process just committed, by '<run row id>
   * <task id>' (see upstreamResults).
   */
  private async dispatch(
    claimed: ClaimedTask[],
    sentAt: number,
    known: ReadonlyMap<string, unknown> = new Map(),
  ): Promise<void> {
    const upstream = await this.upstreamResults(claimed, known);
    // Read once per version and process, like the run's: no statement per try.
    const versions = await Promise.all(
      claimed.map(
        async (claim) =>
          [await this.cache.get(claim.dag_version_id), await this.cache.get(claim.try_version_id)] as const,
      ),
    );
    // No heartbeat has covered these claims yet: one sent nearly a heartbeat timeout ago (the
    // process was frozen meanwhile, or the database slow to answer) may have been taken by a
    // scheduler already (src/scheduler/maintenance.ts). Not started, then: handed back.
    const timeout = this.options.heartbeatTimeoutMs;
    if (timeout !== undefined && Date.now() - sentAt >= timeout - this.options.heartbeatMs) {
      await handBackTries(this.db, claimed, ['queued']);
      return;
    }
    claimed.forEach((claim, i) => {
      const [structure, code] = versions[i]!;
      const entry: InFlight = { claim, structure, code, logs: [], abort: new AbortController(), aliveAt: sentAt };
      this.#inFlight.set(claim.lease, entry);
      this.#waiting.push({ entry, upstream: upstream.get(claim.id) ?? {} });
    });
    // The claim's order (claim-tasks.ts): backfill work last, then by priority. Stable:
    // equal ones keep their claim order (oldest scheduled first).
    const priority = (e: InFlight) => e.structure.tasks.get(e.claim.task_id)?.priority ?? 0;
    this.#waiting.sort(
      (a, b) =>
        Number(a.entry.claim.backfill) - Number(b.entry.claim.backfill) || priority(b.entry) - priority(a.entry),
    );
    this.startWaiting();
  }

  private startWaiting(): void {
    // A process that was frozen (SIGSTOP, a stalled VM) may hear of a finished try before its
    // heartbeat timer fires: it must not start what it holds if a scheduler may have taken it.
    this.abandonIfCutOff();
    while (this.#waiting.length > 0 && this.pool.running < this.pool.size) {
      const { entry, upstream } = this.#waiting.shift()!;
      entry.ended = this.execute(entry, upstream).then((outcome) => {
        this.complete(entry, outcome);
        this.startWaiting();
      });
    }
  }

  private started(entry: InFlight): void {
    entry.startedAt = Date.now();
    const { claim } = entry;
    this.bus.emit('task:state', {
      runRowId: claim.run_row_id,
      taskId: claim.task_id,
      state: 'running',
      tryNumber: claim.try_number,
      scheduledAt: claim.scheduled_at,
    });
    this.#toMarkRunning.add(entry);
    this.#markTimer ??= setTimeout(() => void this.markRunning(), 20);
  }

  /**
   * Shows started tasks as running, many per statement. A task that ends within the
   * 20 ms never gets this write: its completion records when it started.
   */
  private async markRunning(): Promise<void> {
    this.#markTimer = undefined;
    const entries = [...this.#toMarkRunning];
    this.#toMarkRunning.clear();
    if (entries.length === 0) return;
    try {
      const { rowCount } = await this.serially(() =>
        execute(
          this.db,
          sql`update task_instances ti set state = 'running', started_at = v.started_at, updated_at = now()
                from jsonb_to_recordset(${jsonb(entries.map((e) => ({ id: e.claim.id, lease: e.claim.lease, started_at: new Date(e.startedAt!) })))})
                     as v(id uuid, lease uuid, started_at timestamptz)
               where ti.id = v.id and ti.lease = v.lease and ti.state = 'queued'`,
        ),
      );
      if (rowCount > 0) this.announceState();
    } catch (error) {
      // Marked with the next batch: a try left `queued` while it runs would count as not
      // started if its worker died (src/scheduler/maintenance.ts).
      for (const entry of entries) if (this.#inFlight.has(entry.claim.lease)) this.#toMarkRunning.add(entry);
      this.#markTimer ??= setTimeout(() => void this.markRunning(), this.options.heartbeatMs);
      this.bus.emit('error', error as Error);
    }
  }

  /**
   * Tells live pages (NOTIFY updraft_state) that task states changed, at most every 200 ms.
   * PostgreSQL wakes every listening backend of the database at each NOTIFY, whatever the
   * channel, and each wake-up is a transaction there: one NOTIFY per completion batch and
   * per batch of running marks cost 0.10 transactions per task with one worker beside a
   * scheduler, 0.18 with two (bench/scale.ts, BENCH_WIRE=1; docs/performance.md).
   */
  private announceState(): void {
    this.#announceTimer ??= setTimeout(() => void this.sendStateNotice(), 200);
  }

  private async sendStateNotice(): Promise<void> {
    clearTimeout(this.#announceTimer);
    this.#announceTimer = undefined;
    await execute(this.db, sql`select pg_notify('updraft_state', '')`).catch((error: Error) =>
      this.bus.emit('error', error),
    );
  }

  /** Runs `write` after the writes before it have ended (see #writes). */
  private serially<T>(write: () => Promise<T>): Promise<T> {
    const next = this.#writes.then(write, write);
    this.#writes = next.catch(() => undefined);
    return next;
  }

  /**
   * XComs of the claimed tasks' direct upstream tasks, one query for the batch. Those this
   * process has just committed (`known`) are taken from memory, as jsonb hands them back:
   * a chain's next task then starts without a round trip for its input (the read was one
   * statement per task of a chain of 30, 29 of its 8.4 per task: engine-statements.test.ts).
   */
  private async upstreamResults(
    claimed: ClaimedTask[],
    known: ReadonlyMap<string, unknown>,
  ): Promise<Map<string, Record<string, unknown>>> {
    const wanted: { ti: string; run: string; task: string; idx: number | null }[] = [];
    const results = new Map<string, Record<string, unknown>>();
    for (const c of claimed) {
      const structure = await this.cache.get(c.dag_version_id);
      const task = structure.tasks.get(c.task_id);
      const own: Record<string, unknown> = {};
      // A mapped instance gets its item, not the whole list (src/scheduler/mapping.ts).
      const over = task?.mapped && 'over' in task.mapped ? task.mapped.over : undefined;
      // Upstream tasks that returned nothing have no XCom row: their key stays, undefined.
      for (const up of task?.upstream ?? []) {
        const key = `${c.run_row_id} ${up}`;
        const item = up === over ? c.map_index : null;
        // A mapped upstream's result gathers all its instances: never one try's from memory.
        if (known.has(key) && !structure.tasks.get(up)?.mapped) {
          const value = known.get(key);
          if (item === null) own[up] = value;
          else own[ITEM] = Array.isArray(value) ? value[item] : undefined;
          continue;
        }
        if (item === null) own[up] = undefined;
        wanted.push({ ti: c.id, run: c.run_row_id, task: up, idx: item });
      }
      results.set(c.id, own);
    }
    if (wanted.length === 0) return results;
    // An item is cut out in SQL (x.value -> idx), so n instances do not each parse the whole list.
    const { rows } = await execute<{
      ti: string;
      task: string;
      idx: number | null;
      map_index: number;
      value: unknown;
      stored: boolean;
    }>(
      this.db,
      sql`select w.ti, w.task, w.idx, up.map_index, x.task_instance_id is not null as stored,
                 case when w.idx is not null and up.map_index = -1 then x.value -> w.idx else x.value end as value
            from jsonb_to_recordset(${jsonb(wanted)}) as w(ti uuid, run uuid, task text, idx int)
            join task_instances up on up.run_id = w.run and up.task_id = w.task and (w.idx is null or up.map_index in (-1, w.idx))
            left join xcom x on x.task_instance_id = up.id and x.key = 'return_value'
           order by up.map_index`,
    );
    for (const row of rows) {
      const own = results.get(row.ti)!;
      if (row.idx !== null) own[ITEM] = row.stored ? row.value : undefined;
      else if (row.map_index >= 0) ((own[row.task] ??= []) as unknown[])[row.map_index] = row.stored ? row.value : null;
      else if (row.stored) own[row.task] = row.value;
    }
    // A mapped upstream that never expanded (skipped) gathers nothing.
    for (const w of wanted)
      if (w.idx === null && this.isMapped(claimed, w) && results.get(w.ti)![w.task] === undefined)
        results.get(w.ti)![w.task] = [];
    return results;
  }

  private isMapped(claimed: ClaimedTask[], w: { ti: string; task: string }): boolean {
    const claim = claimed.find((c) => c.id === w.ti)!;
    return this.cache.peek(claim.dag_version_id)?.tasks.get(w.task)?.mapped !== undefined;
  }

  /** Runs one try; whatever goes wrong on this side becomes the try's failure, never a crash. */
  private async execute(entry: InFlight, upstreamResults: Record<string, unknown>): Promise<TaskOutcome> {
    try {
      return await this.runInPool(entry, upstreamResults);
    } catch (error) {
      return { status: 'failed', error: `could not run the task: ${(error as Error).message}`, retryable: true };
    }
  }

  private async runInPool(entry: InFlight, upstreamResults: Record<string, unknown>): Promise<TaskOutcome> {
    const { claim, structure, code } = entry;
    const task = structure.tasks.get(claim.task_id);
    if (!task)
      return {
        status: 'failed',
        error: `task '${claim.task_id}' is not in this version of DAG '${structure.dagId}'`,
        retryable: false,
      };
    // The try runs the latest code: its timeout is the one that code sets.
    const timeoutMs = (code.tasks.get(claim.task_id) ?? task).timeoutMs;
    let params: Record<string, unknown>;
    try {
      params = resolveParams(structure.serialized.params, claim.conf);
    } catch (error) {
      return {
        status: 'failed',
        error: `the run's conf does not match the DAG's params: ${(error as Error).message}`,
        retryable: false,
      };
    }
    const { [ITEM]: fromUpstream, ...upstream } = upstreamResults;
    const mapped = task.mapped;
    return this.pool.run(
      {
        file: path.join(this.options.dagsFolder, code.file),
        fileVersion: code.hash,
        dagId: structure.dagId,
        taskId: claim.task_id,
        runId: claim.run_id,
        taskInstanceId: claim.id,
        logicalDate: claim.logical_date.toISOString(),
        intervalStart: claim.interval_start.toISOString(),
        intervalEnd: claim.interval_end.toISOString(),
        tryNumber: claim.try_number,
        maxTries: claim.max_tries,
        ...(claim.sensor_started_at ? { sensorStartedAt: claim.sensor_started_at.toISOString() } : {}),
        params,
        conf: claim.conf,
        runType: claim.run_type,
        upstreamResults: upstream,
        mapIndex: claim.map_index,
        mapItem: mapped === undefined ? undefined : 'items' in mapped ? mapped.items[claim.map_index] : fromUpstream,
      },
      {
        timeoutMs,
        signal: entry.abort.signal,
        onLog: (line) => entry.logs.push({ level: line.level, message: toStorableText(line.message), at: line.at }),
        onStarted: () => this.started(entry),
        onAsk: (question) => this.answer(claim, structure, question),
      },
    );
  }

  private answer(claim: ClaimedTask, structure: DagStructure, question: Question): Promise<unknown> {
    switch (question.kind) {
      case 'pull':
        return this.pull(claim, structure, question.taskId);
      case 'connection':
        return connectionUrl(this.db, question.name);
      case 'state':
        return readOperatorState(this.db, structure.dagId, claim.task_id, question.key);
    }
  }

  private async pull(claim: ClaimedTask, structure: DagStructure, taskId: string): Promise<unknown> {
    const task = structure.tasks.get(taskId);
    if (!task) throw new Error(`DAG '${structure.dagId}' has no task '${taskId}'`);
    const { rows } = await execute<{ map_index: number; value: unknown }>(
      this.db,
      sql`select ti.map_index, x.value from task_instances ti left join xcom x on x.task_instance_id = ti.id and x.key = 'return_value'
           where ti.run_id = ${claim.run_row_id} and ti.task_id = ${taskId} and (x.task_instance_id is not null or ti.map_index >= 0)
           order by ti.map_index`,
    );
    // A mapped task's result: its instances' results in map-index order (the reduce).
    if (task.mapped) return rows.filter((r) => r.map_index >= 0).map((r) => r.value ?? null);
    return rows[0]?.value;
  }

  private complete(entry: InFlight, outcome: TaskOutcome): void {
    const { claim, structure } = entry;
    // Handed back by stop(): the task instance is no longer this process's.
    if (!this.#inFlight.has(claim.lease) || entry.handedBack) return;
    const task = structure.tasks.get(claim.task_id);
    const now = Date.now();
    const result: TaskResult = {
      taskInstanceId: claim.id,
      lease: claim.lease,
      tryNumber: claim.try_number,
      runRowId: claim.run_row_id,
      taskId: claim.task_id,
      mapIndex: claim.map_index,
      versionId: claim.dag_version_id,
      state: 'success',
      logs: entry.logs,
      startedAt: entry.startedAt,
      endedAt: now,
    };
    if (outcome.status === 'success') {
      result.result = outcome.result;
      if (outcome.followed) result.followed = outcome.followed;
      if (outcome.effects) result.effects = { ...outcome.effects, dagId: structure.dagId };
    } else if (outcome.status === 'reschedule') {
      // The sensor frees its slot until its next poke; that poke's claim keeps this try number (claim-tasks.ts).
      result.state = 'up_for_reschedule';
      result.nextTryAt = new Date(outcome.nextPokeAt);
      result.sensorStartedAt = new Date(outcome.firstPokeAt);
      result.logs.push({
        level: 'info',
        message: `not yet: rescheduled, next poke at ${result.nextTryAt.toISOString()}`,
        at: now,
      });
    } else if (outcome.status === 'skipped') {
      result.state = 'skipped';
      result.logs.push({ level: 'info', message: `skipped: ${outcome.reason}`, at: now });
    } else {
      // A try stopped from outside is not retried: its task instance is no longer this try's.
      const stopped = entry.revoked !== undefined;
      const retry =
        !stopped && outcome.retryable && task !== undefined && hasTriesLeft(claim.try_number, claim.max_tries);
      result.state = retry ? 'up_for_retry' : 'failed';
      result.error = toStorableText(outcome.error);
      result.logs.push({ level: 'error', message: toStorableText(outcome.stack ?? outcome.error), at: now });
      if (retry) {
        result.nextTryAt = new Date(now + retryDelayMs(task, claim.try_number));
        result.logs.push({
          level: 'info',
          message: `try ${claim.try_number} of ${claim.max_tries} failed; retrying at ${result.nextTryAt.toISOString()}`,
          at: now,
        });
      } else if (!stopped && outcome.retryable && task && claim.max_tries > 1) {
        result.logs.push({
          level: 'info',
          message: `try ${claim.try_number} of ${claim.max_tries} failed; no tries left`,
          at: now,
        });
      }
    }
    entry.done = true;
    this.#pending.push(result);
    void this.commit();
  }

  /** Group commit: one transaction for everything that finished meanwhile. */
  private async commit(): Promise<void> {
    if (this.#committing) return;
    const run = async () => {
      await this.#flushing;
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        try {
          await this.finish(batch);
        } catch (error) {
          this.bus.emit('error', error as Error);
          if (isRefusedData(error)) {
            await this.finishOneByOne(batch);
            continue;
          }
          this.#pending = [...batch, ...this.#pending];
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
    };
    this.#committing = run().finally(() => {
      this.#committing = undefined;
      // A result that arrived after the loop's last look must not wait for the next one.
      if (this.#pending.length > 0) void this.commit();
      else if (this.#inFlight.size === 0) this.#idle?.();
    });
    await this.#committing;
  }

  /** Commits a batch of results and acts on what that changed. */
  private async finish(batch: TaskResult[]): Promise<void> {
    // Room once this batch leaves: the same transaction claims what it makes ready.
    const room = this.#stopping ? 0 : this.capacity + batch.length;
    const request = this.claimRequest(room);
    await this.claiming(request, (sentAt) => this.finishBatch(batch, request, sentAt));
  }

  private async finishBatch(batch: TaskResult[], request: ClaimRequest, sentAt: number): Promise<void> {
    const report = await this.serially(() =>
      finishTasks(this.db, this.cache, batch, request, { announceState: false }),
    );
    if (report.changes.length > 0) this.announceState();
    const callbacks = this.callbacksOf(batch, report);
    for (const r of batch) this.#inFlight.delete(r.lease);
    if (report.claimed.length > 0) {
      const refused = new Set(report.refused.map((r) => r.taskInstanceId));
      const known = new Map(
        batch
          .filter((r) => r.state === 'success' && !refused.has(r.taskInstanceId))
          .map((r) => [`${r.runRowId} ${r.taskId}`, asStoredJson(r.result)]),
      );
      await this.dispatch(report.claimed, sentAt, known);
    }
    // After the downstream tries were handed to the pool: they go first.
    if (callbacks) this.#callbacks.afterCommit(callbacks.tries, callbacks.runs);
    for (const c of report.changes) this.bus.emit('task:state', c);
    for (const r of report.refused)
      this.bus.emit('task:refused', { runRowId: r.runRowId, taskId: r.taskId, tryNumber: r.tryNumber });
    for (const f of report.finishedRuns) this.bus.emit('run:finished', f);
    if (report.finishedRuns.length > 0) this.bus.emit('runs');
    // Freed slots and maybe more work: look again, unless the transaction's claim already
    // found less than it asked for (nothing else is ready; new work wakes us by NOTIFY).
    if (report.claimBusy) this.claimSoon();
    else if (report.claimAsked === 0 || report.claimed.length >= report.claimAsked) this.wake();
  }

  /**
   * The callbacks a commit calls for: accepted tries whose task has a callback for its new
   * state, and ended runs whose DAG has one. Undefined (the usual case) when there are none:
   * a look at the stored list of callbacks, no statement.
   */
  private callbacksOf(
    batch: readonly TaskResult[],
    report: FinishReport,
  ): { tries: CommittedTry[]; runs: EndedRun[] } | undefined {
    // By result, not task instance: a zombie's refused try and the accepted new one may share a batch.
    const refused = new Set(report.refused);
    const tries: CommittedTry[] = [];
    const byRun = new Map<string, DagStructure>();
    for (const result of batch) {
      const entry = this.#inFlight.get(result.lease);
      if (!entry) continue;
      if (report.finishedRuns.length > 0) byRun.set(result.runRowId, entry.code);
      // A try's callback is the one of the code the try ran.
      const committed = { result, claim: entry.claim, structure: entry.code };
      if (!refused.has(result) && CallbackRunner.eventFor(committed)) tries.push(committed);
    }
    const runs = report.finishedRuns.flatMap((f) => {
      const structure = byRun.get(f.runRowId);
      return structure?.serialized.runCallbacks ? [{ runRowId: f.runRowId, state: f.state, structure }] : [];
    });
    return tries.length > 0 || runs.length > 0 ? { tries, runs } : undefined;
  }

  /**
   * After the database refused a batch's data (a value too large, a constraint): each
   * result alone, so one bad result cannot hold back the others; one that is refused
   * again ends its try as failed, without the XCom or effects the database would not take.
   */
  private async finishOneByOne(batch: TaskResult[]): Promise<void> {
    for (const result of batch) {
      try {
        await this.finish([result]);
      } catch (error) {
        if (!isRefusedData(error)) {
          this.#pending.push(result);
          continue;
        }
        const why = `the try's result could not be stored: ${describeDatabaseError(error) ?? (error as Error).message}`;
        const failed: TaskResult = {
          ...result,
          state: 'failed',
          error: why,
          result: undefined,
          effects: undefined,
          nextTryAt: undefined,
        };
        failed.logs = [...result.logs, { level: 'error', message: why, at: Date.now() }];
        await this.finish([failed]).catch((again: unknown) => {
          this.bus.emit('error', again as Error);
          this.#pending.push(result);
        });
      }
    }
  }

  /**
   * Marks every try this process holds as alive, and stops the tries whose task instance
   * was taken from them meanwhile (the run was cancelled or marked).
   *
   * By lease, not by owner: a row this process does not know it holds (a claim whose reply
   * was lost) must not be kept alive by it; settleClaims finds such rows. Stamped with
   * clock_timestamp(), the moment of the write. Never waiting for a row lock (SKIP LOCKED):
   * a row locked by another transaction is being finished or taken anyway, and a heartbeat
   * that queued behind a stalled process's locks would let every try here go stale. So it
   * runs beside this process's other writes, not after them (#writes): it cannot deadlock
   * with them.
   */
  async heartbeat(): Promise<void> {
    if (this.#beating || this.#inFlight.size === 0) return;
    // Held before the statement starts, so their claims are committed and visible to it.
    const held = [...this.#inFlight.values()];
    const sentAt = Date.now();
    this.#beating = true;
    try {
      const { rows } = await execute<{ lease: string }>(
        this.db,
        sql`with held as (
              select ti.id from task_instances ti
                join jsonb_to_recordset(${jsonb(held.map((e) => ({ id: e.claim.id, lease: e.claim.lease })))}) as v(id uuid, lease uuid)
                  on ti.id = v.id and ti.lease = v.lease
               where ti.state in ('queued', 'running')
                 for update of ti skip locked
            )
            update task_instances ti set heartbeat_at = clock_timestamp() from held where ti.id = held.id returning ti.lease`,
      );
      const alive = new Set(rows.map((r) => r.lease));
      for (const entry of held) if (alive.has(entry.claim.lease)) entry.aliveAt = Math.max(entry.aliveAt, sentAt);
      const missing = held.filter(
        (e) => !alive.has(e.claim.lease) && e.revoked === undefined && this.#inFlight.has(e.claim.lease),
      );
      if (missing.length > 0) await this.stopRevoked(missing);
    } catch (error) {
      this.bus.emit('error', error as Error);
    } finally {
      this.#beating = false;
    }
    // A claim left unsettled by an error is settled as soon as the database answers again.
    if (this.#unsettled.size > 0) this.wake();
  }

  /**
   * Tries whose rows no heartbeat has reached for nearly the heartbeat timeout (the
   * database is out of reach, or this process was frozen) are stopped and forgotten: a scheduler that can reach the database may be about to
   * take them (src/scheduler/maintenance.ts), and a result sent later would be refused
   * anyway. Results that had finished are kept and committed when the database is back:
   * their tries may still own their task instances then (after a restart, a scheduler takes
   * nothing for a heartbeat timeout). What was stopped is handed back then too, without
   * using up a try, unless a scheduler took it meanwhile.
   */
  private abandonIfCutOff(): void {
    const timeout = this.options.heartbeatTimeoutMs;
    if (timeout === undefined) return;
    const now = Date.now();
    // Tries that have ended keep their place: their results are committed when the database is
    // back. Claims made since it came back are young, and go on.
    const given = [...this.#inFlight.values()].filter(
      (e) => !e.done && now - e.aliveAt >= timeout - this.options.heartbeatMs,
    );
    if (given.length === 0) return;
    const why = `no heartbeat reached the database for ${Math.round((now - Math.min(...given.map((e) => e.aliveAt))) / 1000)}s`;
    const waiting = new Set(given);
    this.#waiting.splice(0, this.#waiting.length, ...this.#waiting.filter((w) => !waiting.has(w.entry)));
    const running = given.filter((e) => e.ended !== undefined);
    for (const entry of given) {
      entry.handedBack = true;
      entry.abort.abort(new Error(`${why}: the try is stopped, and handed back to run again`));
      this.#inFlight.delete(entry.claim.lease);
    }
    // Said, and handed back, once they have ended (a thread that ignores its signal is
    // terminated a moment later): a try handed back while it still ran could commit its work
    // beside its next try.
    void Promise.all(running.map((e) => e.ended)).then(() => {
      this.#abandoned.push(...given);
      this.bus.emit(
        'warning',
        `${why}: stopped its ${running.length} running tries; they are handed back once the database answers`,
      );
    });
  }

  /** Hands back the tries given up while the database was out of reach; tried again at each heartbeat until it answers. */
  private async handBackAbandoned(): Promise<void> {
    if (this.#abandoned.length === 0) return;
    const tries = this.#abandoned;
    this.#abandoned = [];
    try {
      await handBackTries(
        this.db,
        tries.map((e) => e.claim),
        ['queued', 'running'],
      );
    } catch (error) {
      this.#abandoned.push(...tries);
      this.bus.emit('error', error as Error);
    }
  }

  /**
   * Of tries no longer held in the database, stops those whose lease was revoked (set to
   * null by a cancel or a mark; src/catalog/mark.ts): a try not yet started is dropped, a
   * running one is aborted and its result is then refused by fencing. Tries that merely
   * finished, or that the reaper handed to a newer try, are left alone.
   */
  private async stopRevoked(candidates: InFlight[]): Promise<void> {
    const { rows } = await execute<{ id: string; state: string | null; error: string | null }>(
      this.db,
      sql`select id, state, error from task_instances
           where id in (select value::uuid from jsonb_array_elements_text(${jsonb(candidates.map((e) => e.claim.id))})) and lease is null`,
    );
    const revoked = new Map(rows.map((r) => [r.id, r]));
    for (const entry of candidates) {
      const row = revoked.get(entry.claim.id);
      if (!row || !this.#inFlight.has(entry.claim.lease)) continue;
      entry.revoked =
        row.error?.replace(/^cancelled: /, '') ?? `its task instance was set to ${row.state ?? 'none'} from outside`;
      const waiting = this.#waiting.findIndex((w) => w.entry === entry);
      if (waiting >= 0) {
        this.#waiting.splice(waiting, 1);
        this.#inFlight.delete(entry.claim.lease);
      } else {
        // The pool reports the try as failed with 'cancelled: <reason>'.
        entry.abort.abort(entry.revoked);
      }
    }
    if (this.#inFlight.size === 0) this.#idle?.();
    this.wake();
  }

  /**
   * Stores the log lines of tasks still running, so a long task's log can be read while
   * it runs. Never beside a commit: a commit waits for the flush in progress, so a try's
   * last lines (stored by its commit) always come after the lines flushed before them.
   */
  private flushLogs(): Promise<void> {
    if (this.#committing) return Promise.resolve();
    this.#flushing ??= this.insertRunningLogs().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  private async insertRunningLogs(): Promise<void> {
    const taken = [...this.#inFlight.values()]
      .map((entry) => ({ entry, lines: entry.logs.splice(0) }))
      .filter((t) => t.lines.length > 0);
    if (taken.length === 0) return;
    const rows = taken.flatMap(({ entry, lines }) =>
      lines.map((l) => ({
        id: entry.claim.id,
        try_number: entry.claim.try_number,
        at: new Date(l.at),
        level: l.level,
        message: l.message,
      })),
    );
    try {
      await insertLogs(this.db, rows);
    } catch (error) {
      // Kept for the next flush or the try's completion, not lost.
      for (const { entry, lines } of taken) entry.logs.unshift(...lines);
      this.bus.emit('error', error as Error);
    }
  }

  /**
   * Stops claiming, hands back at once the claimed tries that have not started, lets
   * running tries finish for up to `graceMs`, then hands the rest back: they become
   * scheduled again without using up a try.
   */
  async stop(graceMs: number): Promise<void> {
    const stopAt = Date.now();
    this.#stopping = true;
    this.bus.off('work', this.wake);
    this.bus.off('callbacks', this.takeCallbacks);
    clearInterval(this.#takeCallbacksTimer);
    // Tries still waiting for a thread go back now, so that other workers run them during the grace.
    const unstarted = this.#waiting.splice(0).map((w) => w.entry);
    for (const entry of unstarted) this.#inFlight.delete(entry.claim.lease);
    await this.handBack(unstarted);
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.#idle = resolve)),
        new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      // Cleared, or the process would live on until the grace is over.
      clearTimeout(timer);
    }
    // Tries still running past the grace are aborted, and handed back only once they have
    // ended: a try handed back while it ran went on and committed its work (an sql task's
    // statement) while another worker ran it again (test/postgres/faults-sigterm.test.ts).
    const running = [...this.#inFlight.values()].filter((e) => e.ended !== undefined);
    for (const entry of running) {
      entry.handedBack = true;
      entry.abort.abort(new Error('the process is stopping: the try is handed back to run again'));
    }
    await Promise.all(running.map((e) => e.ended));
    clearInterval(this.#heartbeat);
    clearInterval(this.#logFlush);
    clearTimeout(this.#markTimer);
    clearTimeout(this.#claimTimer);
    await this.#committing;
    // Claims this process may hold without knowing, and tries it gave up, go back too.
    await this.settleClaims().catch((error: Error) => this.bus.emit('error', error));
    await this.handBackAbandoned();
    // Callbacks of the last commits get what is left of the grace (at least a second), then are cancelled.
    await this.#callbacks.idle(Math.max(1_000, graceMs - (Date.now() - stopAt)));
    // The last changes are announced now, not after the process has gone.
    if (this.#announceTimer) await this.sendStateNotice();
    const left = [...this.#inFlight.values()];
    if (left.length > 0) await this.flushLogs();
    await this.handBack(left);
    this.#inFlight.clear();
  }

  /**
   * Makes tries this process holds scheduled again without using up a try (fenced by
   * lease), and wakes other executors at once rather than at their next poll.
   */
  private async handBack(entries: InFlight[]): Promise<void> {
    await handBackTries(
      this.db,
      entries.map((e) => e.claim),
      ['queued', 'running'],
    ).catch((error: Error) => this.bus.emit('error', error));
  }
}

/** Where upstreamResults puts a mapped instance's item (a key no task id can be). */
const ITEM = ' item';

/**
 * The database refused the data itself (SQLSTATE class 22 data exception, 23 integrity
 * violation, 54 limit exceeded): sending the same results again will not help, unlike a
 * lost connection or a restart, which a later attempt survives.
 */
function isRefusedData(error: unknown): boolean {
  const code = pgErrorCode(error);
  return code !== undefined && /^(22|23|54)/.test(code);
}
