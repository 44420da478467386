import { describe, expect, it } from 'vitest';
import {
  dueRuns,
  manualRunInfo,
  nextDagRunInfo,
  upcomingRuns,
  type DagRunInfo,
  type DataInterval,
  type ScheduleSpec,
} from '../../src/schedule/index.js';

// Every test runs on a fixed clock: the schedule functions take `now` as an argument.
const d = (iso: string) => new Date(iso);

function spec(overrides: Partial<ScheduleSpec> = {}): ScheduleSpec {
  return {
    schedule: '@daily',
    timezone: 'UTC',
    startDate: d('2026-01-01T00:00:00Z'),
    endDate: null,
    catchup: true,
    ...overrides,
  };
}

/** [start, end) of each run as ISO strings, for readable expectations. */
function intervals(runs: Array<DagRunInfo | null>): Array<[string, string] | null> {
  return runs.map((r) => (r ? [r.interval.start.toISOString(), r.interval.end.toISOString()] : null));
}

const day = (n: number) => `2026-01-${String(n).padStart(2, '0')}T00:00:00.000Z`;
const interval = (start: string, end: string): DataInterval => ({ start: d(start), end: d(end) });

describe('nextDagRunInfo: data intervals', () => {
  it('covers [D, next(D)) with logical date D, due at next(D)', () => {
    const run = nextDagRunInfo(spec(), null, d('2026-01-10T12:00:00Z'));
    expect(run).toEqual({
      logicalDate: d(day(1)),
      interval: { start: d(day(1)), end: d(day(2)) },
      runAfter: d(day(2)),
    });
  });

  it('starts at the first fire time at or after an unaligned startDate', () => {
    const run = nextDagRunInfo(
      spec({ schedule: '0 2 * * *', startDate: d('2026-01-01T05:00:00Z') }),
      null,
      d('2026-02-01T00:00:00Z'),
    );
    expect(intervals([run])).toEqual([['2026-01-02T02:00:00.000Z', '2026-01-03T02:00:00.000Z']]);
  });

  it('reads the cron in the DAG timezone', () => {
    const run = nextDagRunInfo(
      spec({ schedule: '0 2 * * *', timezone: 'Europe/Berlin', startDate: d('2026-01-01T00:00:00+01:00') }),
      null,
      d('2026-02-01T00:00:00Z'),
    );
    expect(intervals([run])).toEqual([['2026-01-01T01:00:00.000Z', '2026-01-02T01:00:00.000Z']]);
  });

  it('continues from the end of the last scheduled run', () => {
    const run = nextDagRunInfo(spec(), interval(day(4), day(5)), d('2026-01-10T00:00:00Z'));
    expect(intervals([run])).toEqual([[day(5), day(6)]]);
  });

  it('realigns after a schedule change, as Airflow does (the new interval starts at the last fire time <= the old end)', () => {
    const run = nextDagRunInfo(spec({ schedule: '0 6 * * *' }), interval(day(4), day(5)), d('2026-01-10T00:00:00Z'));
    expect(intervals([run])).toEqual([['2026-01-04T06:00:00.000Z', '2026-01-05T06:00:00.000Z']]);
  });

  it('schedules nothing without a schedule or without a startDate', () => {
    expect(nextDagRunInfo(spec({ schedule: null }), null, d(day(10)))).toBeNull();
    expect(nextDagRunInfo(spec({ startDate: null }), null, d(day(10)))).toBeNull();
    expect(dueRuns(spec({ schedule: null }), null, d(day(10)), 10)).toEqual([]);
    expect(upcomingRuns(spec({ startDate: null }), null, d(day(10)), 10)).toEqual([]);
  });
});

describe('catchup', () => {
  const now = d('2026-01-05T12:00:00Z');

  it('true: every missed interval since startDate is due, oldest first', () => {
    expect(intervals(dueRuns(spec(), null, now, 100))).toEqual([
      [day(1), day(2)],
      [day(2), day(3)],
      [day(3), day(4)],
      [day(4), day(5)],
    ]);
  });

  it('true: picks up after the last scheduled run', () => {
    expect(intervals(dueRuns(spec(), interval(day(2), day(3)), now, 100))).toEqual([
      [day(3), day(4)],
      [day(4), day(5)],
    ]);
  });

  it('false: only the latest complete interval is due', () => {
    const s = spec({ catchup: false });
    expect(intervals([nextDagRunInfo(s, null, now)])).toEqual([[day(4), day(5)]]);
    expect(intervals(dueRuns(s, null, now, 100))).toEqual([[day(4), day(5)]]);
  });

  it('false: skips the intervals missed since the last run', () => {
    expect(intervals(dueRuns(spec({ catchup: false }), interval(day(1), day(2)), now, 100))).toEqual([
      [day(4), day(5)],
    ]);
  });

  it('false: at an interval boundary, the interval ending now is the latest complete one', () => {
    expect(intervals(dueRuns(spec({ catchup: false }), null, d(day(5)), 100))).toEqual([[day(4), day(5)]]);
  });

  it('false: nothing is due once the latest interval has run; the next one is still reported', () => {
    const s = spec({ catchup: false });
    expect(dueRuns(s, interval(day(4), day(5)), now, 100)).toEqual([]);
    expect(intervals([nextDagRunInfo(s, interval(day(4), day(5)), now)])).toEqual([[day(5), day(6)]]);
  });

  it('false: never starts before startDate', () => {
    const s = spec({ catchup: false, startDate: d('2026-01-08T10:00:00Z') });
    expect(intervals([nextDagRunInfo(s, null, now)])).toEqual([[day(9), day(10)]]);
    expect(dueRuns(s, null, now, 100)).toEqual([]);
  });

  it('false: hourly, between boundaries', () => {
    const s = spec({ schedule: '@hourly', catchup: false });
    expect(intervals(dueRuns(s, null, d('2026-01-05T12:34:56Z'), 100))).toEqual([
      ['2026-01-05T11:00:00.000Z', '2026-01-05T12:00:00.000Z'],
    ]);
  });
});

describe('dueRuns and upcomingRuns are bounded by their limit', () => {
  it('returns at most `limit` runs, oldest first', () => {
    expect(intervals(dueRuns(spec(), null, d('2026-01-05T12:00:00Z'), 2))).toEqual([
      [day(1), day(2)],
      [day(2), day(3)],
    ]);
    expect(dueRuns(spec(), null, d('2026-01-05T12:00:00Z'), 0)).toEqual([]);
  });

  it('is lazy: 56 years of minutes behind, the first 3 come back at once', () => {
    const s = spec({ schedule: '* * * * *', timezone: 'America/New_York', startDate: d('1970-01-01T00:00:00Z') });
    const started = performance.now();
    const runs = dueRuns(s, null, d('2026-01-01T00:00:00Z'), 3);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(intervals(runs)).toEqual([
      ['1970-01-01T00:00:00.000Z', '1970-01-01T00:01:00.000Z'],
      ['1970-01-01T00:01:00.000Z', '1970-01-01T00:02:00.000Z'],
      ['1970-01-01T00:02:00.000Z', '1970-01-01T00:03:00.000Z'],
    ]);
  });

  it('upcomingRuns lists the next n runs whether due or not', () => {
    const runs = upcomingRuns(spec(), interval(day(3), day(4)), d('2026-01-05T12:00:00Z'), 3);
    expect(intervals(runs)).toEqual([
      [day(4), day(5)],
      [day(5), day(6)],
      [day(6), day(7)],
    ]);
    expect(runs.map((r) => r.runAfter.toISOString())).toEqual([day(5), day(6), day(7)]);
    expect(upcomingRuns(spec(), null, d(day(5)), 0)).toEqual([]);
  });
});

describe('endDate', () => {
  const s = spec({ endDate: d(day(3)) });

  it('schedules no interval starting after endDate (one starting on it still runs, as in Airflow)', () => {
    expect(intervals(dueRuns(s, null, d('2026-02-01T00:00:00Z'), 100))).toEqual([
      [day(1), day(2)],
      [day(2), day(3)],
      [day(3), day(4)],
    ]);
    expect(nextDagRunInfo(s, interval(day(3), day(4)), d('2026-02-01T00:00:00Z'))).toBeNull();
    expect(upcomingRuns(s, interval(day(2), day(3)), d(day(1)), 10)).toHaveLength(1);
  });

  it('with catchup=false, ends the schedule once the latest interval starts after endDate', () => {
    expect(nextDagRunInfo({ ...s, catchup: false }, null, d('2026-02-01T00:00:00Z'))).toBeNull();
  });

  it('before startDate, schedules nothing', () => {
    expect(nextDagRunInfo(spec({ endDate: d('2025-12-31T00:00:00Z') }), null, d(day(10)))).toBeNull();
  });
});

describe('@once', () => {
  const s = spec({ schedule: '@once', startDate: d('2026-01-03T10:00:00Z') });

  it('is one run at startDate with an empty interval, due from startDate', () => {
    const expected = {
      logicalDate: d('2026-01-03T10:00:00Z'),
      interval: { start: d('2026-01-03T10:00:00Z'), end: d('2026-01-03T10:00:00Z') },
      runAfter: d('2026-01-03T10:00:00Z'),
    };
    expect(nextDagRunInfo(s, null, d(day(1)))).toEqual(expected);
    expect(dueRuns(s, null, d(day(1)), 10)).toEqual([]);
    expect(dueRuns(s, null, d(day(4)), 10)).toEqual([expected]);
    expect(upcomingRuns(s, null, d(day(1)), 5)).toEqual([expected]);
  });

  it('ignores catchup, and schedules nothing once it has run', () => {
    expect(nextDagRunInfo({ ...s, catchup: false }, null, d('2027-01-01T00:00:00Z'))?.logicalDate).toEqual(
      d('2026-01-03T10:00:00Z'),
    );
    const ran = interval('2026-01-03T10:00:00Z', '2026-01-03T10:00:00Z');
    expect(nextDagRunInfo(s, ran, d(day(5)))).toBeNull();
    expect(dueRuns(s, ran, d(day(5)), 10)).toEqual([]);
  });

  it('schedules nothing when endDate is before startDate', () => {
    expect(nextDagRunInfo({ ...s, endDate: d(day(2)) }, null, d(day(5)))).toBeNull();
  });
});

describe('manual runs', () => {
  it('have the trigger time as logical date and the last complete interval as data interval', () => {
    const at = d('2026-01-25T01:00:00Z');
    expect(manualRunInfo(spec(), at)).toEqual({
      logicalDate: at,
      interval: { start: d('2026-01-24T00:00:00Z'), end: d('2026-01-25T00:00:00Z') },
      runAfter: at,
    });
  });

  it('triggered right on a boundary, cover the interval ending then', () => {
    const run = manualRunInfo(spec({ schedule: '@hourly' }), d('2026-01-25T10:00:00Z'));
    expect(intervals([run])).toEqual([['2026-01-25T09:00:00.000Z', '2026-01-25T10:00:00.000Z']]);
  });

  it('ignore startDate, endDate and catchup', () => {
    const run = manualRunInfo(
      spec({ startDate: d('2030-01-01T00:00:00Z'), endDate: d('2030-02-01T00:00:00Z'), catchup: false }),
      d('2026-01-25T01:00:00Z'),
    );
    expect(intervals([run])).toEqual([['2026-01-24T00:00:00.000Z', '2026-01-25T00:00:00.000Z']]);
  });

  it('without a cron schedule (null or @once), cover [at, at]', () => {
    const at = d('2026-01-25T01:02:03Z');
    const exact = { logicalDate: at, interval: { start: at, end: at }, runAfter: at };
    expect(manualRunInfo(spec({ schedule: null }), at)).toEqual(exact);
    expect(manualRunInfo(spec({ schedule: '@once' }), at)).toEqual(exact);
  });
});
