import type { Db } from '../db/client.js';
import type { ClaimedTask } from '../state/tries.js';
import type { EngineBus } from '../state/bus.js';
import type { DagCache } from '../state/dag-cache.js';
import type { TaskResult } from '../state/complete-tries.js';
import { CallbackRunner, TAKE_INTERVAL_MS } from './callbacks.js';
import { ClaimLoop } from './claim-loop.js';
import { GroupCommit } from './group-commit.js';
import { Held, type InFlight } from './in-flight.js';
import { answer, upstreamResults } from './inputs.js';
import { Leases } from './leases.js';
import { LogFlush } from './log-flush.js';
import { Lifecycle, type ExecutorMode } from './mode.js';
import type { TaskPool } from './pool.js';
import type { TaskOutcome } from './protocol.js';
import { storedEnd } from './retry-policy.js';
import { runTry } from './run-try.js';
import { Writes } from './writes.js';

export type { ExecutorMode } from './mode.js';

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

/**
 * Claims ready task instances in batches and runs them in the task pool, then
 * group-commits their results. A coordinator of its parts: the claim loop (claim-loop.ts),
 * the tries' inputs (inputs.ts, run-try.ts), their leases (leases.ts), what an end stores
 * (retry-policy.ts), the commits (group-commit.ts), the writes that show tries running
 * (writes.ts) and their logs (log-flush.ts). Its lifecycle is one mode (mode.ts).
 */
export class Executor {
  readonly #held = new Held();
  readonly #lifecycle = new Lifecycle();
  readonly #claims: ClaimLoop;
  readonly #leases: Leases;
  readonly #writes: Writes;
  readonly #logs: LogFlush;
  readonly #commits: GroupCommit;
  /** Task and run callbacks of what this process commits (docs/callbacks.md). */
  readonly #callbacks: CallbackRunner;
  #takeCallbacksTimer: NodeJS.Timeout | undefined;
  /** Resolves a draining stop()'s wait once nothing is held. */
  #idle: (() => void) | undefined;

  constructor(
    private readonly db: Db,
    private readonly cache: DagCache,
    private readonly pool: TaskPool,
    private readonly bus: EngineBus,
    private readonly options: ExecutorOptions,
  ) {
    const idle = () => this.#idle?.();
    this.#callbacks = new CallbackRunner(db, pool, bus, {
      dagsFolder: options.dagsFolder,
      answer: (claim, structure, question) => answer(db, claim, structure, question),
      freed: () => this.startWaiting(),
    });
    this.#claims = new ClaimLoop(db, pool, bus, this.#held, this.#lifecycle, {
      owner: options.owner,
      queues: options.queues,
      onlyRun: options.onlyRun,
      maxInFlight: options.maxInFlight,
      dispatch: (claimed, sentAt) => this.dispatch(claimed, sentAt),
    });
    this.#leases = new Leases(db, bus, this.#held, {
      heartbeatMs: options.heartbeatMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      wake: this.wake,
      unsettled: () => this.#claims.unsettled,
      idle,
    });
    this.#writes = new Writes(db, bus, this.#held, options.heartbeatMs);
    this.#logs = new LogFlush(db, bus, this.#held, () => this.#commits.committing !== undefined);
    this.#commits = new GroupCommit(db, cache, bus, this.#held, {
      claims: this.#claims,
      writes: this.#writes,
      logs: this.#logs,
      callbacks: this.#callbacks,
      lifecycle: this.#lifecycle,
      dispatch: (claimed, sentAt, known) => this.dispatch(claimed, sentAt, known),
      wake: this.wake,
      idle,
    });
  }

  /** Tries held: running, plus claimed and waiting for a thread, plus ended and not yet committed. */
  get running(): number {
    return this.#held.tries.size;
  }

  /** Where the executor is in its lifecycle (mode.ts). */
  get mode(): ExecutorMode {
    return this.#lifecycle.mode;
  }

  start(): void {
    this.#lifecycle.started();
    this.bus.on('work', this.wake);
    // Callbacks the reaper queued (docs/callbacks.md); `dags test` runs only its own run's.
    if (this.options.onlyRun === undefined) {
      this.bus.on('callbacks', this.takeCallbacks);
      this.#takeCallbacksTimer = setInterval(this.takeCallbacks, TAKE_INTERVAL_MS);
      this.takeCallbacks();
    }
    this.#leases.start();
    this.#logs.start();
    this.wake();
  }

  private readonly takeCallbacks = (): void => {
    if (!this.#lifecycle.draining) void this.#callbacks.takeQueued(this.cache);
  };

  /** Looks for work now (called on events, NOTIFY and the safety-net poll). */
  readonly wake = (): void => {
    void this.#claims.run();
  };

  /**
   * Marks every try this process holds as alive, and stops the tries whose task instance
   * was taken from them meanwhile (leases.ts).
   */
  heartbeat(): Promise<void> {
    return this.#leases.heartbeat();
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
    const upstream = await upstreamResults(this.db, this.cache, claimed, known);
    // Read once per version and process, like the run's: no statement per try.
    const versions = await Promise.all(
      claimed.map(
        async (claim) =>
          [await this.cache.get(claim.dag_version_id), await this.cache.get(claim.try_version_id)] as const,
      ),
    );
    // No heartbeat has covered these claims yet: one sent nearly a heartbeat timeout ago (the
    // process was frozen meanwhile, or the database slow to answer) may have been taken by a
    // scheduler already (src/state/reap.ts). Not started, then: handed back.
    if (this.#leases.tooOld(sentAt)) {
      await this.#leases.handBackQueued(claimed);
      return;
    }
    claimed.forEach((claim, i) => {
      const [structure, code] = versions[i]!;
      const entry: InFlight = { claim, structure, code, logs: [], abort: new AbortController(), aliveAt: sentAt };
      this.#held.tries.set(claim.lease, entry);
      this.#held.waiting.push({ entry, upstream: upstream.get(claim.id) ?? {} });
    });
    // The claim's order (claim-tasks.ts): backfill work last, then by priority. Stable:
    // equal ones keep their claim order (oldest scheduled first).
    const priority = (e: InFlight) => e.structure.tasks.get(e.claim.task_id)?.priority ?? 0;
    this.#held.waiting.sort(
      (a, b) =>
        Number(a.entry.claim.backfill) - Number(b.entry.claim.backfill) || priority(b.entry) - priority(a.entry),
    );
    this.startWaiting();
  }

  private startWaiting(): void {
    // A process that was frozen (SIGSTOP, a stalled VM) may hear of a finished try before its
    // heartbeat timer fires: it must not start what it holds if a scheduler may have taken it.
    this.#leases.abandonIfCutOff();
    while (this.#held.waiting.length > 0 && this.pool.running < this.pool.size) {
      const { entry, upstream } = this.#held.waiting.shift()!;
      entry.ended = runTry(this.pool, entry, upstream, {
        dagsFolder: this.options.dagsFolder,
        onStarted: (e) => this.started(e),
        onAsk: (e, question) => answer(this.db, e.claim, e.structure, question),
      }).then((outcome) => {
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
    this.#writes.started(entry);
  }

  /** A try ended: what it stores (retry-policy.ts) goes to the next group commit. */
  private complete(entry: InFlight, outcome: TaskOutcome): void {
    const { claim, structure } = entry;
    // Handed back by stop(): the task instance is no longer this process's.
    if (!this.#held.tries.has(claim.lease) || entry.handedBack) return;
    const now = Date.now();
    const { logs, ...end } = storedEnd({
      outcome,
      tryNumber: claim.try_number,
      maxTries: claim.max_tries,
      task: structure.tasks.get(claim.task_id),
      revoked: entry.revoked !== undefined,
      dagId: structure.dagId,
      now,
    });
    // The try's own log array: lines a flush has not taken yet go with the commit.
    entry.logs.push(...logs);
    const result: TaskResult = {
      taskInstanceId: claim.id,
      lease: claim.lease,
      tryNumber: claim.try_number,
      runRowId: claim.run_row_id,
      taskId: claim.task_id,
      mapIndex: claim.map_index,
      versionId: claim.dag_version_id,
      logs: entry.logs,
      startedAt: entry.startedAt,
      endedAt: now,
      ...end,
    };
    entry.done = true;
    this.#commits.add(result);
  }

  /**
   * Stops claiming, hands back at once the claimed tries that have not started, lets
   * running tries finish for up to `graceMs`, then hands the rest back: they become
   * scheduled again without using up a try.
   */
  async stop(graceMs: number): Promise<void> {
    const stopAt = Date.now();
    this.#lifecycle.drain();
    this.bus.off('work', this.wake);
    this.bus.off('callbacks', this.takeCallbacks);
    clearInterval(this.#takeCallbacksTimer);
    // Tries still waiting for a thread go back now, so that other workers run them during the grace.
    const unstarted = this.#held.waiting.splice(0).map((w) => w.entry);
    for (const entry of unstarted) this.#held.tries.delete(entry.claim.lease);
    await this.#leases.handBack(unstarted);
    if (this.#held.tries.size > 0) {
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
    const running = [...this.#held.tries.values()].filter((e) => e.ended !== undefined);
    for (const entry of running) {
      entry.handedBack = true;
      entry.abort.abort(new Error('the process is stopping: the try is handed back to run again'));
    }
    await Promise.all(running.map((e) => e.ended));
    this.#leases.stop();
    this.#logs.stop();
    this.#writes.stopMarking();
    this.#claims.stop();
    await this.#commits.committing;
    // Claims this process may hold without knowing, and tries it gave up, go back too.
    await this.#claims.settle().catch((error: Error) => this.bus.emit('error', error));
    await this.#leases.handBackAbandoned();
    // Callbacks of the last commits get what is left of the grace (at least a second), then are cancelled.
    await this.#callbacks.idle(Math.max(1_000, graceMs - (Date.now() - stopAt)));
    // The last changes are announced now, not after the process has gone.
    await this.#writes.announceNow();
    const left = [...this.#held.tries.values()];
    if (left.length > 0) await this.#logs.flush();
    await this.#leases.handBack(left);
    this.#held.tries.clear();
    this.#lifecycle.stopped();
  }
}
