import type { Db } from '../db/client.js';
import { notify } from '../db/notify.js';
import { markTriesRunning } from '../state/tries.js';
import type { EngineBus } from '../state/bus.js';
import type { Held, InFlight } from './in-flight.js';

/**
 * The executor's writes to the task instances it holds, one at a time (mark running here,
 * completions in group-commit.ts), and the NOTIFY that tells live pages states changed.
 */
export class Writes {
  /**
   * The writes to this process's task instances (mark running, completions), one
   * at a time. Side by side on two connections they locked the same rows in different orders
   * and deadlocked (SQLSTATE 40P01): 7 of 39 backfills of 365 runs lost 1-2 s to one
   * (bench/backfill.ts, PostgreSQL); one after the other, 0 of 10. The heartbeat runs beside
   * them (src/db/sql/heartbeat.ts): it cannot deadlock with them.
   */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #toMarkRunning = new Set<InFlight>();
  #markTimer: NodeJS.Timeout | undefined;
  #announceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly bus: EngineBus,
    private readonly held: Held,
    /** How long a failed mark waits before it is tried again, with the next batch. */
    private readonly retryMs: number,
  ) {}

  /** Runs `write` after the writes before it have ended (see #queue). */
  serially<T>(write: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(write, write);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** A try's thread took it: it is shown as running with the next batch of marks. */
  started(entry: InFlight): void {
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
      const rowCount = await this.serially(() =>
        markTriesRunning(
          this.db,
          entries.map((e) => ({ id: e.claim.id, lease: e.claim.lease, startedAt: new Date(e.startedAt!) })),
        ),
      );
      if (rowCount > 0) this.announceState();
    } catch (error) {
      // Marked with the next batch: a try left `queued` while it runs would count as not
      // started if its worker died (src/state/reap.ts).
      for (const entry of entries) if (this.held.tries.has(entry.claim.lease)) this.#toMarkRunning.add(entry);
      this.#markTimer ??= setTimeout(() => void this.markRunning(), this.retryMs);
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
  announceState(): void {
    this.#announceTimer ??= setTimeout(() => void this.sendStateNotice(), 200);
  }

  /** Stops marking; what is still to mark is shown by its completion or hand-back. */
  stopMarking(): void {
    clearTimeout(this.#markTimer);
  }

  /** Sends the pending announcement now, if there is one (a stopping process's last changes). */
  async announceNow(): Promise<void> {
    if (this.#announceTimer) await this.sendStateNotice();
  }

  private async sendStateNotice(): Promise<void> {
    clearTimeout(this.#announceTimer);
    this.#announceTimer = undefined;
    await notify(this.db, 'state').catch((error: Error) => this.bus.emit('error', error));
  }
}
