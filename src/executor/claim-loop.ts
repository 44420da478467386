import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import { claimTasks, recoverClaims, type ClaimedTask, type ClaimRequest } from '../state/tries.js';
import { handBackTries } from '../state/tries.js';
import type { EngineBus } from '../state/bus.js';
import type { Held } from './in-flight.js';
import type { Lifecycle } from './mode.js';
import type { TaskPool } from './pool.js';

export interface ClaimLoopOptions {
  owner: string;
  queues: readonly string[];
  onlyRun?: string;
  maxInFlight?: number;
  /** Queues claimed tries for the threads (the executor's dispatch); `sentAt`: when the claim was sent. */
  dispatch: (claimed: ClaimedTask[], sentAt: number) => Promise<void>;
}

/**
 * Claims ready task instances in batches while there is room, and settles claims whose
 * reply was lost: a claim that ended in an error may have been committed anyway, and what
 * it holds is found by its token (claim-tasks.ts, recoverClaims).
 */
export class ClaimLoop {
  /**
   * Tokens of claims that ended in an error (claim-tasks.ts, ClaimRequest.token), with when
   * each was sent: the database may have committed them anyway, the reply lost. Until a look at the database
   * settles them (settle), this process may hold tries it does not know of.
   */
  readonly #unsettled = new Map<string, number>();
  /** Another claimer held the claim lock: a look again is due (soon). */
  #timer: NodeJS.Timeout | undefined;
  /**
   * Re-entrancy guard: a loop is under way (in any mode; while draining it only settles
   * claims). A wake-up meanwhile sets #again instead of starting a second loop beside it.
   */
  #looping = false;
  #again = false;

  constructor(
    private readonly db: Db,
    private readonly pool: TaskPool,
    private readonly bus: EngineBus,
    private readonly held: Held,
    private readonly lifecycle: Lifecycle,
    private readonly options: ClaimLoopOptions,
  ) {}

  /** Tries this process may still take on: running, plus claimed and waiting for a thread. */
  get capacity(): number {
    return (this.options.maxInFlight ?? this.pool.size * 64) - this.held.tries.size;
  }

  /** Claims whose outcome is not known yet wait to be settled. */
  get unsettled(): boolean {
    return this.#unsettled.size > 0;
  }

  /** A claim of up to `limit` tries for this process, with a new token. */
  request(limit: number): ClaimRequest {
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
   * token waits to be settled (settle), and a loop is due to do it.
   */
  async claiming<T>(request: ClaimRequest, attempt: (sentAt: number) => Promise<T>): Promise<T> {
    const sentAt = Date.now();
    try {
      return await attempt(sentAt);
    } catch (error) {
      this.#unsettled.set(request.token, sentAt);
      this.soon();
      throw error;
    }
  }

  /** Looks for work again in a moment: another claimer held the claim lock, or a claim is unsettled. */
  soon(): void {
    // Spread out, so that workers turned away together do not come back together.
    this.#timer ??= setTimeout(
      () => {
        this.#timer = undefined;
        void this.run();
      },
      50 + Math.random() * 150,
    );
  }

  /**
   * Finds what unsettled claims hold (claim-tasks.ts, recoverClaims) and runs it (or, while
   * draining, hands it back): a claim committed without this process hearing of it would
   * otherwise stay queued under a live owner until it was reaped.
   */
  async settle(): Promise<void> {
    if (this.#unsettled.size === 0) return;
    const tokens = [...this.#unsettled.keys()];
    const sentAt = Math.min(...this.#unsettled.values());
    const found = (await recoverClaims(this.db, this.options.owner, tokens)).filter(
      (c) => !this.held.tries.has(c.lease),
    );
    if (this.lifecycle.draining) await handBackTries(this.db, found, ['queued']);
    else if (found.length > 0) await this.options.dispatch(found, sentAt);
    for (const token of tokens) this.#unsettled.delete(token);
  }

  /** The claim loop: settles unsettled claims, then claims while there is room and work. */
  async run(): Promise<void> {
    if (this.#looping) {
      this.#again = true;
      return;
    }
    this.#looping = true;
    this.lifecycle.claiming();
    try {
      await this.settle();
      do {
        this.#again = false;
        const free = this.capacity;
        // Full: a finishing task wakes us again.
        if (free <= 0 || this.lifecycle.draining) break;
        // Enough claimed work still waits for threads: claim later, in one larger batch.
        // Claiming each freed slot at once degraded into one claim and one commit per
        // task (PGlite, 1,000 tasks: 1,001 claims, 12.7 s).
        if (this.held.waiting.length >= this.pool.size) break;
        const request = this.request(free);
        const claimed = await this.claiming(request, async (sentAt) => {
          const claim = await claimTasks(this.db, request);
          if (claim.tasks.length > 0) await this.options.dispatch(claim.tasks, sentAt);
          return claim;
        });
        if (claimed.busy) this.soon();
        // A full batch suggests more is waiting; a wake-up during the claim may have found nothing yet.
        else if (claimed.tasks.length === free) this.#again = true;
      } while (this.#again);
    } catch (error) {
      this.bus.emit('error', error as Error);
    } finally {
      this.#looping = false;
      this.lifecycle.claimed();
    }
  }

  /** No look again is due any more (stop()). */
  stop(): void {
    clearTimeout(this.#timer);
  }
}
