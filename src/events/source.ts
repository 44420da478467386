/**
 * What every event source shares: the named connection (resolved when the source
 * starts, never logged), one clear message per problem instead of one per attempt,
 * and handing events to startEventRun, one at a time or in batches.
 */
import type { EventEmitter } from 'node:events';
import pg from 'pg';
import { connectionUrl } from '../connections/store.js';
import { maskUrl, redact, rememberSecretsOf } from '../util/mask.js';
import type { Db } from '../db/client.js';
import { describeDatabaseError } from '../db/errors.js';
import type { EventsSpec } from '../dag/events.js';
import { startEventRun, type EventRunOptions, type EventRunOutcome, type SourceEvent } from './start-run.js';

/** What the sources report; EventTriggers logs them, tests wait on them. */
export interface TriggerEvents {
  /** The source is connected and listening or polling. */
  ready: [{ dagId: string; source: string }];
  /** Events were handed over: a run started, or not (duplicates, rejected conf). */
  outcome: [{ dagId: string; source: string; outcome: EventRunOutcome }];
  /** Something keeps the source from working; said once until it works again. */
  problem: [{ dagId: string; source: string; message: string; warning: boolean }];
  /** The source works again after a problem. */
  recovered: [{ dagId: string; source: string }];
  /** The source was stopped: the DAG was paused, changed or removed, or the scheduler stops. */
  stopped: [{ dagId: string; source: string }];
}

export type TriggerBus = EventEmitter<TriggerEvents>;

export interface SourceContext {
  db: Db;
  dagId: string;
  spec: EventsSpec;
  /** "on NOTIFY app_db/new_orders": how messages name the source. */
  label: string;
  bus: TriggerBus;
}

export abstract class EventSource {
  protected stopped = false;
  #problem: string | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = 500;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(protected readonly ctx: SourceContext) {}

  /** Starts the source; failures are reported and retried, never thrown. */
  start(): void {
    void this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.#retry);
    await this.close();
    await this.#queue.catch(() => {});
  }

  /** Connect, set up, listen or poll: throws when it cannot. */
  protected abstract open(): Promise<void>;
  protected abstract close(): Promise<void>;

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.open();
      if (this.stopped) return void (await this.close());
      this.#retryMs = 500;
      this.ok();
      this.ctx.bus.emit('ready', { dagId: this.ctx.dagId, source: this.ctx.label });
    } catch (error) {
      await this.close().catch(() => {});
      this.fail(error);
      this.retryLater((error as { retryMs?: number }).retryMs);
    }
  }

  /** Opens the source again after a backoff (0.5 s doubling to 60 s): the connection dropped, or never came up. */
  protected retryLater(ms?: number): void {
    if (this.stopped) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.attempt(), ms ?? this.#retryMs);
    if (ms === undefined) this.#retryMs = Math.min(this.#retryMs * 2, 60_000);
  }

  /** Reports a problem once (the same message again is not repeated). */
  protected fail(error: unknown, warning = false): void {
    const message = redact(describeDatabaseError(error) ?? (error instanceof Error ? error.message : String(error)));
    if (message === this.#problem) return;
    this.#problem = message;
    this.ctx.bus.emit('problem', { dagId: this.ctx.dagId, source: this.ctx.label, message, warning });
  }

  protected ok(): void {
    if (this.#problem === undefined) return;
    this.#problem = undefined;
    this.ctx.bus.emit('recovered', { dagId: this.ctx.dagId, source: this.ctx.label });
  }

  /** A client to the source database. The URL is never shown; errors name the connection with its password masked. */
  protected async connect(applicationName: string): Promise<pg.Client> {
    const { conn } = this.ctx.spec;
    const url = await connectionUrl(this.ctx.db, conn);
    rememberSecretsOf(url);
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 10_000,
      application_name: applicationName,
    });
    client.on('error', () => {}); // replaced by the caller's handler; a stray error must not crash the process
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw new Error(`cannot reach connection '${conn}' (${maskUrl(url)}): ${(error as Error).message}`, {
        cause: error,
      });
    }
    return client;
  }

  /** Hands events to startEventRun, one call after the other (never two transactions of this source at once). */
  protected hand(events: SourceEvent[], options: EventRunOptions): Promise<EventRunOutcome> {
    const next = this.#queue.then(async () => {
      const outcome = await startEventRun(this.ctx.db, this.ctx.dagId, events, options);
      this.ctx.bus.emit('outcome', { dagId: this.ctx.dagId, source: this.ctx.label, outcome });
      return outcome;
    });
    this.#queue = next.catch(() => {});
    return next;
  }
}

/** A NOTIFY payload or a row as a run's conf: a JSON object as is, anything else as `{ payload }`. */
export function confOf(payload: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(payload);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // not JSON: the text itself
  }
  return { payload };
}
