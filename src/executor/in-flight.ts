import type { ClaimedTask } from '../state/tries.js';
import type { DagStructure } from '../state/dag-cache.js';
import type { LogLine } from '../state/complete-tries.js';

/** A try this executor holds: claimed, waiting for a thread, running, or ended and not yet committed. */
export interface InFlight {
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
  /** The try has ended and its result waits in the group commit to be committed. */
  done?: boolean;
  /**
   * When its row was last known alive in the database (epoch ms, this process's clock): when
   * its claim was sent, then when the last heartbeat that reached it was sent. A scheduler
   * takes the try a heartbeat timeout after that at the earliest.
   */
  aliveAt: number;
}

/** A claimed try waiting for a thread, with its upstream results. */
export interface Waiting {
  entry: InFlight;
  upstream: Record<string, unknown>;
}

/**
 * What an executor holds, shared by its parts (claim loop, leases, group commit, log flush).
 * `tries`: by lease: two tries of one task instance can be here at once (the reaper gave the
 * instance to a new try while the old one still ran), and each must end on its own, the old
 * one refused. `waiting`: claimed tries waiting for a thread, highest priority first. They
 * are handed to the pool only when a thread is free: piscina's own queue is not FIFO (it
 * rotates tries it cannot start at once), so queued there they would start in any order.
 */
export class Held {
  readonly tries = new Map<string, InFlight>();
  readonly waiting: Waiting[] = [];

  /** Takes `entries` out of the waiting queue (they were given up or revoked before starting). */
  unqueue(entries: ReadonlySet<InFlight>): void {
    this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((w) => !entries.has(w.entry)));
  }
}
