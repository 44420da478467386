/**
 * The dates a backfill covers (planIntervals): the range's schedule intervals, both ends
 * included, only those complete when it was created, backwards the same dates newest
 * first, and a plan resumed from its cursor chunk by chunk the same as in one go.
 */
import { describe, expect, it } from 'vitest';
import { planIntervals, type PlanRange } from '../../src/backfill/plan.js';
import type { Timetable } from '../../src/schedule/timetable.js';
import { compileSchedule } from '../../src/schedule/validate.js';

function timetable(cron: string, zone: string): Timetable {
  const compiled = compileSchedule(cron, zone);
  if (compiled.kind !== 'cron') throw new Error('expected a cron');
  return compiled.timetable;
}

const iso = (d: Date) => d.toISOString();

/** Every planned interval as 'start/end', planning `chunk` at a time from the last one's logical date. */
function plan(t: Timetable, range: PlanRange, chunk = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  let cursor: Date | null = null;
  for (;;) {
    let taken = 0;
    for (const info of planIntervals(t, range, cursor)) {
      out.push(`${iso(info.interval.start)}/${iso(info.interval.end)}`);
      cursor = info.logicalDate;
      if (++taken >= chunk) break;
    }
    if (taken < chunk) return out;
  }
}

describe('planIntervals', () => {
  // '30 2 * * *' in Berlin: the spring-forward day (2026-03-29) fires at 03:30 local.
  const berlin = timetable('30 2 * * *', 'Europe/Berlin');
  const range: PlanRange = {
    from: new Date('2026-03-27T00:00:00Z'),
    to: new Date('2026-03-31T23:59:59.999Z'),
    backwards: false,
    completeBy: new Date('2026-06-01T00:00:00Z'),
  };

  it('covers the range’s intervals, both ends included, across a DST change', () => {
    expect(plan(berlin, range)).toEqual([
      '2026-03-27T01:30:00.000Z/2026-03-28T01:30:00.000Z',
      '2026-03-28T01:30:00.000Z/2026-03-29T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z/2026-03-30T00:30:00.000Z',
      '2026-03-30T00:30:00.000Z/2026-03-31T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z/2026-04-01T00:30:00.000Z',
    ]);
    // A logical date exactly at `from` or `to` is in.
    expect(
      plan(berlin, { ...range, from: new Date('2026-03-28T01:30:00Z'), to: new Date('2026-03-30T00:30:00Z') }),
    ).toHaveLength(3);
  });

  it('backwards: the same dates, newest first, resumed chunk by chunk', () => {
    const forward = plan(berlin, range);
    expect(plan(berlin, { ...range, backwards: true })).toEqual([...forward].reverse());
    expect(plan(berlin, { ...range, backwards: true }, 2)).toEqual([...forward].reverse());
    expect(plan(berlin, range, 2)).toEqual(forward);
  });

  it('leaves out intervals not complete when the backfill was created, however far `to` is', () => {
    const completeBy = new Date('2026-03-30T12:00:00Z');
    const cut = { ...range, to: new Date('2036-01-01T00:00:00Z'), completeBy };
    const expected = plan(berlin, range).slice(0, 3);
    expect(plan(berlin, cut)).toEqual(expected);
    expect(plan(berlin, { ...cut, backwards: true })).toEqual([...expected].reverse());
  });

  it('plans nothing for a range between two fire times', () => {
    expect(
      plan(berlin, { ...range, from: new Date('2026-03-27T02:00:00Z'), to: new Date('2026-03-27T03:00:00Z') }),
    ).toEqual([]);
    expect(
      plan(berlin, {
        ...range,
        from: new Date('2026-03-27T02:00:00Z'),
        to: new Date('2026-03-27T03:00:00Z'),
        backwards: true,
      }),
    ).toEqual([]);
  });
});
