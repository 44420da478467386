/** What `updraft backfill` shows while it follows a backfill: the dates and the ETA. */
import { describe, expect, it } from 'vitest';
import type { BackfillInfo, BackfillProgress } from '../../src/backfill/read.js';
import { datesText, etaText, progressLine } from '../../src/cli/backfill/watch.js';

const backfill = { id: 7, state: 'running' } as BackfillInfo;
const progress = (p: Partial<BackfillProgress>): BackfillProgress => ({
  total: 0,
  planDone: false,
  pending: 0,
  skipped: 0,
  queued: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  runningTasks: 0,
  ...p,
});

describe('backfill progress', () => {
  it('says it is planning before the first date is planned, and how many are planned so far after', () => {
    expect(datesText(progress({}))).toBe('planning the dates');
    expect(progressLine(backfill, progress({}))).toBe(
      'backfill 7: planning the dates (0 succeeded, 0 failed, 0 left alone), 0 runs active, 0 tasks running',
    );
    expect(progressLine(backfill, progress({ total: 40, succeeded: 3, running: 2 }))).toBe(
      'backfill 7: 3/40+ dates done, more being planned (3 succeeded, 0 failed, 0 left alone), 2 runs active, 0 tasks running',
    );
    expect(datesText(progress({ total: 40, succeeded: 3 }))).toBe('3/40+ dates (planning)');
    expect(datesText(progress({ total: 40, planDone: true, succeeded: 3 }))).toBe('3/40 dates');
  });

  it('shows an ETA from the pace since watching began, and none while it cannot be known', () => {
    const start = { done: 0, at: 0 };
    // 10 dates in 20 s: 30 left take a minute.
    expect(etaText(backfill, progress({ total: 40, planDone: true, succeeded: 10 }), start, 20_000)).toBe(
      ' | ETA 1m 0s',
    );
    expect(etaText(backfill, progress({ total: 40, planDone: true }), start, 20_000)).toBe('');
    expect(etaText(backfill, progress({ total: 40, planDone: false, succeeded: 10 }), start, 20_000)).toBe('');
    expect(etaText(backfill, progress({ total: 40, planDone: true, succeeded: 10 }), start, 0)).toBe('');
    expect(
      etaText({ ...backfill, state: 'paused' }, progress({ total: 40, planDone: true, succeeded: 10 }), start, 20_000),
    ).toBe('');
  });
});
