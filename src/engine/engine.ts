import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { describeError, isConnectionError, isContentionError } from '../db/errors.js';
import { CHANNELS, ENGINE_CHANNELS, listen, type Listener } from '../db/notify.js';
import { EventTriggers } from '../events/triggers.js';
import { Executor } from '../executor/executor.js';
import { TaskPool } from '../executor/pool.js';
import { errorFields, type Logger } from '../log.js';
import { DagProcessor } from '../processor/processor.js';
import { DagCache } from '../state/dag-cache.js';
import { reapLostTasks } from '../state/reap.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { createBus, type EngineBus } from '../state/bus.js';

export interface Roles {
  /** Parse the DAGs folder and keep it in step. */
  processor: boolean;
  /** Create and start runs, promote retries, reap lost tasks. */
  scheduler: boolean;
  /** Claim and run tasks in a local task pool. */
  executor: boolean;
}

export interface EngineOptions {
  /** Execute only this run's tasks, and leave run creation alone (`updraft dags test`). */
  onlyRun?: string;
  /** Create runs on the DAGs' schedules (default true; see SchedulerOptions). */
  createScheduledRuns?: boolean;
}

/** A process identity for task_instances.owner: host, pid and a random suffix. */
export function ownerId(): string {
  return `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * The parts of Updraft one process runs, wired together: in-process events wake the
 * scheduler and the executor at once, NOTIFY wakes them across processes, and a slow
 * poll stays on as the safety net.
 */
export class Engine {
  readonly bus: EngineBus = createBus();
  readonly cache: DagCache;
  readonly owner = ownerId();
  processor: DagProcessor | undefined;
  scheduler: Scheduler | undefined;
  executor: Executor | undefined;
  pool: TaskPool | undefined;
  /** DAGs started by NOTIFY or new rows (src/events), in the scheduler role. */
  eventTriggers: EventTriggers | undefined;
  #listener: Listener | undefined;
  #poll: NodeJS.Timeout | undefined;
  /** Set while database errors say it cannot be reached; cleared when LISTEN reconnects. */
  #unreachable: { since: number; loggedAt: number; lastAt: number; count: number } | undefined;

  constructor(
    readonly database: Database,
    readonly config: Config,
    readonly roles: Roles,
    readonly log: Logger,
    readonly options: EngineOptions = {},
  ) {
    this.cache = new DagCache(database.db);
    this.bus.on('error', (error) => this.reportError(error));
    this.bus.on('warning', (message) => log.warn(message));
    // Runs are named as users see them (dag id + run id), never by their row's uuid.
    this.bus.on('run:finished', (run) =>
      log.info({ dag: run.dagId, run: run.runId, state: run.state }, `run ${run.runId} of ${run.dagId} ${run.state}`),
    );
    this.bus.on('callback:log', (line) => log[line.level]({ dag: line.dagId, run: line.runId }, line.message));
    this.bus.on('task:refused', (t) =>
      log.warn(t, `refused the result of try ${t.tryNumber} of ${t.taskId}: the try no longer owned it`),
    );
  }

  /**
   * Logs an error of any part of the engine. Database errors are logged without drizzle's
   * SQL text and parameters (they may hold conf or results) and without a stack. While the
   * database cannot be reached (a restart, a network fault), every part retries on its own:
   * one warning says so, then one line every 10 s at most, instead of a stack trace per attempt.
   */
  private reportError(error: Error): void {
    if (isConnectionError(error)) {
      const now = Date.now();
      const reason = describeError(error);
      const unreachable = this.#unreachable;
      // Long after the last one, an error starts a new outage: a single connection that the
      // server ended (a session limit, a terminated backend) leaves the LISTEN connection up,
      // so no reconnect said the database was back.
      if (!unreachable || now - unreachable.lastAt > 60_000) {
        this.#unreachable = { since: now, loggedAt: now, lastAt: now, count: 1 };
        this.log.warn(`cannot reach the database (${reason}): retrying until it is back`);
        return;
      }
      unreachable.count++;
      unreachable.lastAt = now;
      if (now - unreachable.loggedAt < 10_000) return;
      unreachable.loggedAt = now;
      this.log.warn(
        `still cannot reach the database after ${Math.round((now - unreachable.since) / 1000)}s and ${unreachable.count} failed attempts (${reason})`,
      );
      return;
    }
    // A lock wait or statement past its limit (db/session-limits.ts), a serialization failure:
    // the part that ran it tries again at its next pass.
    if (isContentionError(error)) {
      this.log.warn(errorFields(error), `${describeError(error)} (trying again)`);
      return;
    }
    this.log.error(errorFields(error), describeError(error));
  }

  async start(): Promise<void> {
    const { db } = this.database;
    if (this.roles.processor) {
      this.processor = new DagProcessor(db, this.config);
      this.processor.events.on('error', (error) => this.bus.emit('error', error));
      this.processor.events.on('parsed', (reports) => {
        for (const r of reports) {
          if (r.error)
            this.log.warn(
              { file: r.file, line: r.error.line },
              `DAG file ${r.file} failed to load: ${r.error.message}`,
            );
          else if (r.newVersions.length > 0)
            this.log.info({ file: r.file, dags: r.newVersions }, `stored new versions of ${r.newVersions.join(', ')}`);
        }
        void this.eventTriggers?.reconcile();
        this.bus.emit('runs');
      });
      await this.processor.refresh();
      this.processor.start();
    }
    if (this.roles.scheduler && this.database.driver === 'pglite') {
      // The embedded database belongs to this process alone: whatever an earlier
      // process held when it died is lost now, no need to wait for its heartbeat timeout.
      await reapLostTasks(db, this.cache, 0);
    }
    if (this.roles.executor) {
      this.pool = new TaskPool({ size: this.config.concurrency });
      this.executor = new Executor(db, this.cache, this.pool, this.bus, {
        owner: this.owner,
        queues: this.config.queues,
        dagsFolder: this.config.dagsFolder,
        heartbeatMs: this.config.heartbeatMs,
        heartbeatTimeoutMs: this.config.heartbeatTimeoutMs,
        onlyRun: this.options.onlyRun,
      });
    }
    if (this.roles.scheduler) {
      this.scheduler = new Scheduler(db, this.cache, this.bus, {
        pollMs: this.config.schedulerPollMs,
        heartbeatTimeoutMs: this.config.heartbeatTimeoutMs,
        manageRuns: this.options.onlyRun === undefined,
        serverMayRestart: this.database.driver === 'postgres',
        createScheduledRuns: this.options.createScheduledRuns,
        // `dags test` drives one run in a short-lived process: it is no scheduler to report.
        owner: this.options.onlyRun === undefined ? this.owner : undefined,
        heartbeatMs: this.config.heartbeatMs,
      });
      if (this.options.onlyRun === undefined && (this.options.createScheduledRuns ?? true))
        this.eventTriggers = new EventTriggers(db, this.bus, this.log);
    }
    this.#listener = await listen(
      this.database,
      ENGINE_CHANNELS,
      (channel, payload) => {
        if (channel === CHANNELS.work) this.bus.emit('work');
        if (channel === CHANNELS.dags) void this.eventTriggers?.reconcile();
        if (channel !== CHANNELS.work || payload === 'runs') this.bus.emit('runs');
      },
      (error) => this.reportError(error),
      () => {
        this.log.info(
          `the database is reachable again: listening again${this.#unreachable ? ` (${this.#unreachable.count} failed attempts since ${new Date(this.#unreachable.since).toISOString()})` : ''}`,
        );
        this.#unreachable = undefined;
      },
    );
    this.scheduler?.start();
    await this.eventTriggers?.reconcile();
    this.executor?.start();
    // Safety net for the executor (the scheduler has its own timer): a lost NOTIFY costs one poll.
    if (this.executor) this.#poll = setInterval(() => this.bus.emit('work'), this.config.schedulerPollMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#poll);
    await this.processor?.stop();
    await this.eventTriggers?.stop();
    await this.scheduler?.stop();
    await this.executor?.stop(this.config.shutdownGraceMs);
    await this.pool?.close();
    await this.#listener?.close();
  }
}
