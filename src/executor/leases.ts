/**
 * Keeping held tries' leases: heartbeats, stopping tries whose lease was revoked, giving up
 * tries when no heartbeat reaches the database for nearly the heartbeat timeout, and handing
 * tries back. A try's lease is its fencing token: once it is gone from the row, whatever the
 * try sends is refused, so these decide when a try stops and goes back, never what it stored.
 */
import type { Db } from '../db/client.js';
import type { ClaimedTask } from '../state/tries.js';
import { heartbeatTries, revokedTries } from '../db/sql/heartbeat.js';
import { handBackTries } from '../state/tries.js';
import type { EngineBus } from '../state/bus.js';
import type { Held, InFlight } from './in-flight.js';

export interface LeasesOptions {
  /** How often the tasks this process holds are marked alive. */
  heartbeatMs: number;
  /** After how long without a heartbeat a scheduler takes this process's tasks away; undefined: never. */
  heartbeatTimeoutMs?: number;
  /** Looks for work again (the executor's wake). */
  wake: () => void;
  /** Whether a claim's outcome is unknown (claim-loop.ts): the heartbeat's answer is the moment to settle it. */
  unsettled: () => boolean;
  /** Nothing is held any more (a stop waits for it). */
  idle: () => void;
}

export class Leases {
  #timer: NodeJS.Timeout | undefined;
  /** Re-entrancy guard: a heartbeat statement is under way: the next tick does not send another beside it. */
  #beating = false;
  /** Tries given up while the database was out of reach (abandonIfCutOff), to hand back once it is back. */
  #abandoned: InFlight[] = [];

  constructor(
    private readonly db: Db,
    private readonly bus: EngineBus,
    private readonly held: Held,
    private readonly options: LeasesOptions,
  ) {}

  /** Starts the heartbeat. */
  start(): void {
    // The cut-off check runs on the clock, not after the heartbeat: against an unreachable
    // database the heartbeat's statement may not end for a long time.
    this.#timer = setInterval(() => {
      this.abandonIfCutOff();
      void this.heartbeat().then(() => this.handBackAbandoned());
    }, this.options.heartbeatMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * A claim sent nearly a heartbeat timeout ago, that no heartbeat has covered yet (the
   * process was frozen meanwhile, or the database slow to answer), may have been taken by a
   * scheduler already (src/state/reap.ts): its tries must not start.
   */
  tooOld(sentAt: number): boolean {
    const timeout = this.options.heartbeatTimeoutMs;
    return timeout !== undefined && Date.now() - sentAt >= timeout - this.options.heartbeatMs;
  }

  /**
   * Marks every try this process holds as alive (src/db/sql/heartbeat.ts), and stops the
   * tries whose task instance was taken from them meanwhile (the run was cancelled or marked).
   */
  async heartbeat(): Promise<void> {
    if (this.#beating || this.held.tries.size === 0) return;
    // Held before the statement starts, so their claims are committed and visible to it.
    const held = [...this.held.tries.values()];
    const sentAt = Date.now();
    this.#beating = true;
    try {
      const alive = await heartbeatTries(
        this.db,
        held.map((e) => e.claim),
      );
      for (const entry of held) if (alive.has(entry.claim.lease)) entry.aliveAt = Math.max(entry.aliveAt, sentAt);
      const missing = held.filter(
        (e) => !alive.has(e.claim.lease) && e.revoked === undefined && this.held.tries.has(e.claim.lease),
      );
      if (missing.length > 0) await this.stopRevoked(missing);
    } catch (error) {
      this.bus.emit('error', error as Error);
    } finally {
      this.#beating = false;
    }
    // A claim left unsettled by an error is settled as soon as the database answers again.
    if (this.options.unsettled()) this.options.wake();
  }

  /**
   * Tries whose rows no heartbeat has reached for nearly the heartbeat timeout (the
   * database is out of reach, or this process was frozen) are stopped and forgotten: a scheduler that can reach the database may be about to
   * take them (src/state/reap.ts), and a result sent later would be refused
   * anyway. Results that had finished are kept and committed when the database is back:
   * their tries may still own their task instances then (after a restart, a scheduler takes
   * nothing for a heartbeat timeout). What was stopped is handed back then too, without
   * using up a try, unless a scheduler took it meanwhile.
   */
  abandonIfCutOff(): void {
    const timeout = this.options.heartbeatTimeoutMs;
    if (timeout === undefined) return;
    const now = Date.now();
    // Tries that have ended keep their place: their results are committed when the database is
    // back. Claims made since it came back are young, and go on.
    const given = [...this.held.tries.values()].filter(
      (e) => !e.done && now - e.aliveAt >= timeout - this.options.heartbeatMs,
    );
    if (given.length === 0) return;
    const why = `no heartbeat reached the database for ${Math.round((now - Math.min(...given.map((e) => e.aliveAt))) / 1000)}s`;
    this.held.unqueue(new Set(given));
    const running = given.filter((e) => e.ended !== undefined);
    for (const entry of given) {
      entry.handedBack = true;
      entry.abort.abort(new Error(`${why}: the try is stopped, and handed back to run again`));
      this.held.tries.delete(entry.claim.lease);
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
  async handBackAbandoned(): Promise<void> {
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
   * null by a cancel or a mark; src/state/mark.ts): a try not yet started is dropped, a
   * running one is aborted and its result is then refused by fencing. Tries that merely
   * finished, or that the reaper handed to a newer try, are left alone.
   */
  private async stopRevoked(candidates: InFlight[]): Promise<void> {
    const rows = await revokedTries(
      this.db,
      candidates.map((e) => e.claim.id),
    );
    const revoked = new Map(rows.map((r) => [r.id, r]));
    for (const entry of candidates) {
      const row = revoked.get(entry.claim.id);
      if (!row || !this.held.tries.has(entry.claim.lease)) continue;
      entry.revoked =
        row.error?.replace(/^cancelled: /, '') ?? `its task instance was set to ${row.state ?? 'none'} from outside`;
      const waiting = this.held.waiting.findIndex((w) => w.entry === entry);
      if (waiting >= 0) {
        this.held.waiting.splice(waiting, 1);
        this.held.tries.delete(entry.claim.lease);
      } else {
        // The pool reports the try as failed with 'cancelled: <reason>'.
        entry.abort.abort(entry.revoked);
      }
    }
    if (this.held.tries.size === 0) this.options.idle();
    this.options.wake();
  }

  /**
   * Hands back claimed tries that never started (tooOld). Its error is the claim's: the
   * claim's token then waits to be settled (claim-loop.ts).
   */
  async handBackQueued(claimed: readonly ClaimedTask[]): Promise<void> {
    await handBackTries(this.db, claimed, ['queued']);
  }

  /**
   * Makes tries this process holds scheduled again without using up a try (fenced by
   * lease), and wakes other executors at once rather than at their next poll.
   */
  async handBack(entries: InFlight[]): Promise<void> {
    await handBackTries(
      this.db,
      entries.map((e) => e.claim),
      ['queued', 'running'],
    ).catch((error: Error) => this.bus.emit('error', error));
  }
}
