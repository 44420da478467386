/**
 * The batching rule of event triggers (src/events/batching.ts), shared by the NOTIFY and
 * the queue forms: a full batch is due at once, a debounce waits for quiet, and the
 * maximum wait keeps a steady stream producing runs. A fake clock drives the timers.
 */
import { describe, expect, it } from 'vitest';
import { batchRule } from '../../src/dag/events.js';
import { Batcher, dueIn, type Clock } from '../../src/events/batching.js';

/** A clock whose time moves only when the test says, running the timers that come due. */
function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const timer = { at: now + ms, fn, id: ++ids };
      timers.push(timer);
      return timer.id;
    },
    clearTimeout(handle) {
      timers = timers.filter((t) => t.id !== handle);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
  };
}

const rule = batchRule({ debounceMs: 1000, maxBatch: 100, maxWaitMs: null });

describe('dueIn', () => {
  it('defaults the maximum wait to 5 debounces, and keeps a given one', () => {
    expect(rule.maxWaitMs).toBe(5000);
    expect(batchRule({ debounceMs: 1000, maxBatch: 100, maxWaitMs: 2000 }).maxWaitMs).toBe(2000);
    expect(batchRule({ debounceMs: null, maxBatch: 10, maxWaitMs: null }).maxWaitMs).toBeNull();
  });

  it('is due at once without a debounce, and when the batch is full', () => {
    expect(
      dueIn(batchRule({ debounceMs: null, maxBatch: 10, maxWaitMs: null }), { count: 1, firstAt: 0, lastAt: 0 }, 0),
    ).toBe(0);
    expect(dueIn(rule, { count: 100, firstAt: 0, lastAt: 0 }, 0)).toBe(0);
    expect(dueIn(rule, { count: 250, firstAt: 0, lastAt: 0 }, 0)).toBe(0);
    expect(dueIn(rule, { count: 99, firstAt: 0, lastAt: 0 }, 0)).toBe(1000);
  });

  it('waits for the quiet period after the last event, but never past the maximum wait after the first', () => {
    expect(dueIn(rule, { count: 5, firstAt: 0, lastAt: 600 }, 900)).toBe(700);
    expect(dueIn(rule, { count: 5, firstAt: 0, lastAt: 600 }, 1600)).toBe(0);
    expect(dueIn(rule, { count: 5, firstAt: 0, lastAt: 4500 }, 4600)).toBe(400);
    expect(dueIn(rule, { count: 5, firstAt: 0, lastAt: 4900 }, 5000)).toBe(0);
  });
});

describe('Batcher', () => {
  it('a steady stream (10 events every 100 ms) is handed over every maximum wait, not only when it stops', () => {
    const clock = fakeClock();
    const flushed: number[] = [];
    let pending = 0;
    const batcher = new Batcher(
      rule,
      () => {
        flushed.push(clock.now());
        pending = 0;
        batcher.taken(false);
      },
      clock,
    );
    for (let t = 0; t < 16_000; t += 100) {
      pending += 10;
      batcher.arrived();
      if (batcher.due(pending)) {
        flushed.push(-clock.now());
        pending = 0;
        batcher.taken(false);
      }
      clock.advance(100);
    }
    // 100 events per second with maxBatch 100: each 100th event fills a batch at once.
    expect(flushed.slice(0, 3)).toEqual([-900, -1900, -2900]);
    expect(flushed.length).toBeGreaterThanOrEqual(15);
  });

  it('with batches that never fill, the maximum wait still hands them over while events keep coming', () => {
    const clock = fakeClock();
    const flushed: number[] = [];
    const slow = batchRule({ debounceMs: 1000, maxBatch: 10_000, maxWaitMs: null });
    const batcher = new Batcher(
      slow,
      () => {
        flushed.push(clock.now());
        batcher.taken(false);
      },
      clock,
    );
    for (let t = 0; t < 16_000; t += 100) {
      batcher.arrived();
      expect(batcher.due(1)).toBe(false);
      clock.advance(100);
    }
    expect(flushed).toEqual([5000, 10_000, 15_000]);
    // The stream stops: what is left goes after the quiet period.
    clock.advance(2000);
    expect(flushed).toEqual([5000, 10_000, 15_000, 16_900]);
  });

  it('a lone burst waits the debounce after its last event; a full batch is due at once', () => {
    const clock = fakeClock();
    const flushed: number[] = [];
    const batcher = new Batcher(
      rule,
      () => {
        flushed.push(clock.now());
        batcher.taken(false);
      },
      clock,
    );
    batcher.arrived();
    clock.advance(300);
    batcher.arrived();
    clock.advance(999);
    expect(flushed).toEqual([]);
    clock.advance(1);
    expect(flushed).toEqual([1300]);
    // 250 rows seen at once (one notification): due now.
    expect(batcher.due(250)).toBe(true);
  });

  it('events first seen without an arrival (a poll) start the debounce; taken with more waiting keeps the first arrival', () => {
    const clock = fakeClock();
    const flushed: number[] = [];
    const batcher = new Batcher(rule, () => flushed.push(clock.now()), clock);
    clock.advance(50);
    expect(batcher.due(3)).toBe(false);
    clock.advance(1000);
    expect(flushed).toEqual([1050]);
    expect(batcher.due(3)).toBe(true);
    batcher.taken(true);
    clock.advance(4000);
    batcher.arrived();
    // The first arrival (at 50) still counts: the maximum wait is over.
    expect(batcher.due(3)).toBe(true);
    batcher.stop();
    clock.advance(10_000);
    expect(flushed).toEqual([1050]);
  });
});
