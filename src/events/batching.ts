/**
 * When pending events start their run: the one batching rule of the NOTIFY and the queue
 * forms (docs/event-triggers.md). A batch is due when it is full (`maxBatch`), when no
 * event came for `debounce`, or when its first event has waited `maxWait`; the last one
 * keeps a steady stream (an event every 100 ms with a 1 s debounce) from waiting forever.
 * Without a debounce every batch is due at once. A spec's rule (batchRule) is in
 * dag/events.ts, with the spec.
 */
import type { BatchRule } from '../dag/events.js';

export interface Pending {
  /** Events waiting (known so far). */
  count: number;
  /** When the first of them arrived, and the last (ms). */
  firstAt: number;
  lastAt: number;
}

/** Milliseconds until the pending events are due: 0 when they are due now. */
export function dueIn(rule: BatchRule, pending: Pending, now: number): number {
  if (rule.debounceMs === null) return 0;
  if (rule.maxBatch !== null && pending.count >= rule.maxBatch) return 0;
  const quiet = pending.lastAt + rule.debounceMs;
  const deadline = rule.maxWaitMs === null ? quiet : Math.min(quiet, pending.firstAt + rule.maxWaitMs);
  return Math.max(0, deadline - now);
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The rule applied over time for one source: it remembers when the pending events arrived
 * and calls `onDue` when they become due by time (the source counts them and asks `due`).
 */
export class Batcher {
  #first: number | undefined;
  #last = 0;
  #timer: unknown;

  constructor(
    private readonly rule: BatchRule,
    private readonly onDue: () => void,
    private readonly clock: Clock = realClock,
  ) {}

  /** Events arrived (or were first seen) now: the debounce starts again, the maximum wait does not. */
  arrived(): void {
    const now = this.clock.now();
    this.#first ??= now;
    this.#last = now;
    this.arm(now);
  }

  /** Whether `count` pending events are due now; the first sight of events without an arrival counts as one. */
  due(count: number): boolean {
    if (count === 0) return false;
    if (this.#first === undefined) this.arrived();
    const now = this.clock.now();
    if (dueIn(this.rule, { count, firstAt: this.#first!, lastAt: this.#last }, now) === 0) return true;
    // Asked early (a timer may fire a millisecond before Date.now agrees): ask again then.
    if (this.#timer === undefined) this.arm(now);
    return false;
  }

  /** Pending events were handed over; when `more` may still wait, their first arrival stays. */
  taken(more: boolean): void {
    if (more) return;
    this.#first = undefined;
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  stop(): void {
    this.taken(false);
  }

  /** A timer for the moment the events become due by time (the debounce or the maximum wait). */
  private arm(now: number): void {
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.rule.debounceMs === null) return;
    const wait = dueIn({ ...this.rule, maxBatch: null }, { count: 0, firstAt: this.#first!, lastAt: this.#last }, now);
    this.#timer = this.clock.setTimeout(() => {
      this.#timer = undefined;
      this.onDue();
    }, wait);
  }
}
