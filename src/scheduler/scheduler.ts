import os from 'node:os';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { isConnectionError } from '../db/errors.js';
import { execute } from '../db/execute.js';
import type { EngineBus } from '../state/bus.js';
import type { DagCache } from '../state/dag-cache.js';
import { advanceBackfills } from '../backfill/advance.js';
import { asSoleScheduler, Duty } from './duty.js';
import { promoteRetries } from '../state/promote.js';
import { reapLostTasks } from '../state/reap.js';
import { createDatasetRuns } from './dataset-runs.js';
import { createDueRuns } from './runs.js';
import { startQueuedRuns } from '../state/start-runs.js';

export interface SchedulerOptions {
  /** Safety-net poll: the loop runs at least this often even if no event arrives. */
  pollMs: number;
  /** Claimed tasks without a heartbeat for this long are handed back, running ones failed or retried (src/state/reap.ts). */
  heartbeatTimeoutMs: number;
  /** Create and start runs (default true); `updraft dags test` drives its one run itself. */
  manageRuns?: boolean;
  /** The database is a PostgreSQL server, which may restart while this process runs (src/state/reap.ts). */
  serverMayRestart?: boolean;
  /** Create runs on the DAGs' schedules (default true); a backfill run by the CLI itself leaves them to `standalone`. */
  createScheduledRuns?: boolean;
  /**
   * This process's identity: with it, the scheduler keeps a row in scheduler_heartbeats
   * (touched at most every `heartbeatMs`) that /health of any process reads. Lost tasks
   * are looked for at most every `heartbeatMs` too.
   */
  owner?: string;
  heartbeatMs?: number;
}

/** How soon a scheduler looks again when another one held the run-start lock. */
const BUSY_RETRY_MS = 200;

/**
 * The scheduling loop: creates due runs, moves backfills on, starts queued runs, makes
 * retries ready and reaps tasks of dead workers. It runs when something happens (a run finished or was
 * triggered, a DAG changed, a NOTIFY from another process), at the next known due
 * time (a schedule interval ends, a retry delay passes), and at the slow safety-net
 * poll, never in a tight loop. Task readiness is not decided here: finishing a task
 * evaluates its downstream tasks right away (completeTries).
 */
export class Scheduler {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;
  #lastBeatAt = 0;
  #lastReapAt = 0;
  /** When a pass last failed to reach the database. */
  #unreachableAt = 0;

  constructor(
    private readonly db: Db,
    private readonly cache: DagCache,
    private readonly bus: EngineBus,
    private readonly options: SchedulerOptions,
  ) {}

  start(): void {
    this.#stopped = false;
    this.bus.on('runs', this.wake);
    this.bus.on('task:state', this.onTaskState);
    this.wake();
  }

  // A new retry or sensor poke may be due before the next known wake-up.
  private readonly onTaskState = ({ state }: { state: string }): void => {
    if (state === 'up_for_retry' || state === 'up_for_reschedule') this.wake();
  };

  readonly wake = (): void => {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.loop().finally(() => (this.#running = undefined));
  };

  private async loop(): Promise<void> {
    do {
      this.#again = false;
      clearTimeout(this.#timer);
      let nextAt = Date.now() + this.options.pollMs;
      try {
        nextAt = Math.min(nextAt, await this.tick(new Date()));
        // Only a pass that worked counts as a heartbeat.
        await this.beat();
      } catch (error) {
        if (isConnectionError(error)) this.#unreachableAt = Date.now();
        this.bus.emit('error', error as Error);
      }
      if (!this.#stopped) this.#timer = setTimeout(this.wake, Math.max(0, nextAt - Date.now()));
      // One turn of the event loop between passes. On the embedded database, passes back to
      // back (a large backfill's plan) kept the executor's tasks from starting until the plan
      // was complete: the first task of a year of 5-minute dates ran after 6.0 s, with the
      // turn after 0.13 s (bench/backfill.ts, BENCH_DRIVER=pglite BENCH_CASES=b).
      if (this.#again) await new Promise((resolve) => setImmediate(resolve));
    } while (this.#again && !this.#stopped);
  }

  /** One pass; returns when the next pass is due at the latest (epoch ms). */
  async tick(now: Date): Promise<number> {
    let nextAt = Number.POSITIVE_INFINITY;
    if (this.options.manageRuns ?? true) {
      if (this.options.createScheduledRuns ?? true) {
        const created = await asSoleScheduler(this.db, Duty.createRuns, async (tx) => {
          const due = await createDueRuns(tx, now);
          // In a savepoint: a dataset run that cannot be created (a run committed meanwhile
          // with its logical date) leaves its events queued for the next pass and never
          // undoes the scheduled runs of this one.
          await tx
            .transaction((savepoint) => createDatasetRuns(savepoint, now))
            .catch((error: Error) => this.bus.emit('error', error));
          return due;
        });
        if (created?.nextDueAt) nextAt = Math.min(nextAt, created.nextDueAt.getTime());
      }
      // Before starting queued runs: the dates a backfill queues now start in this pass.
      const backfills = await advanceBackfills(this.db, this.cache, now);
      if (backfills.again) this.#again = true;
      for (const error of backfills.errors) this.bus.emit('error', error);
      for (const id of backfills.completed) this.bus.emit('backfill:completed', { id });
      const started = await startQueuedRuns(this.db, this.cache, now);
      if (started === null) nextAt = Math.min(nextAt, Date.now() + BUSY_RETRY_MS);
      for (const run of started ?? []) for (const change of run.changes) this.bus.emit('task:state', change);
      if (started?.some((r) => r.scheduled.length > 0)) this.bus.emit('work');
      // A run started again after a clear can end at once; its end leaves room for another.
      for (const run of started ?? [])
        if (run.finished) this.bus.emit('run:finished', { runRowId: run.id, dagId: run.dagId, ...run.finished });
      if (started?.some((r) => r.finished)) this.#again = true;
    }

    const retries = await promoteRetries(this.db);
    if (retries.promoted > 0) this.bus.emit('work');
    if (retries.nextRetryAt) nextAt = Math.min(nextAt, retries.nextRetryAt.getTime());

    // A task is lost only once its heartbeat is heartbeatTimeoutMs old, so looking once per
    // heartbeat interval is enough; looking at every pass cost 3 of a pass's ~12 statements,
    // and passes come with every run's start and end (bench/footprint.ts: scheduler CPU per
    // run of a small DAG).
    // Not while this process may have been cut off from the database itself within the
    // timeout: heartbeats it could not see are no proof that their workers died.
    const reapDue =
      now.getTime() - this.#lastReapAt >= (this.options.heartbeatMs ?? 5_000) &&
      now.getTime() - this.#unreachableAt >= this.options.heartbeatTimeoutMs;
    if (reapDue) this.#lastReapAt = now.getTime();
    const reaped = !reapDue
      ? undefined
      : await asSoleScheduler(this.db, Duty.reap, (tx) =>
          reapLostTasks(tx, this.cache, this.options.heartbeatTimeoutMs, now, this.options.serverMayRestart ?? true),
        );
    if (reaped) {
      for (const c of reaped.changes) this.bus.emit('task:state', c);
      for (const f of reaped.finishedRuns) this.bus.emit('run:finished', f);
      if (reaped.scheduled > 0) this.bus.emit('work');
      if (reaped.finishedRuns.length > 0) this.#again = true;
      if (reaped.callbacksQueued) this.bus.emit('callbacks');
    }
    return nextAt;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.bus.off('runs', this.wake);
    this.bus.off('task:state', this.onTaskState);
    clearTimeout(this.#timer);
    await this.#running;
    // A scheduler that stops says so; one that dies leaves its row to age.
    if (this.options.owner && this.#lastBeatAt > 0) {
      await execute(this.db, sql`delete from scheduler_heartbeats where owner = ${this.options.owner}`).catch(
        (error: Error) => this.bus.emit('error', error),
      );
    }
  }

  /**
   * Touches this scheduler's heartbeat row, at most every heartbeatMs (a pass can run many
   * times a second under load). Rows of schedulers gone for a day are pruned here too.
   */
  private async beat(): Promise<void> {
    const { owner, heartbeatMs = 5_000 } = this.options;
    if (!owner || Date.now() - this.#lastBeatAt < heartbeatMs) return;
    this.#lastBeatAt = Date.now();
    await execute(
      this.db,
      sql`with pruned as (delete from scheduler_heartbeats where heartbeat_at < now() - interval '1 day')
          insert into scheduler_heartbeats (owner, hostname, pid) values (${owner}, ${os.hostname()}, ${process.pid})
          on conflict (owner) do update set heartbeat_at = clock_timestamp()`,
    );
  }
}
