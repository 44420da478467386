import { CronExpressionParser } from 'cron-parser';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  dueRuns,
  manualRunInfo,
  nextDagRunInfo,
  parseDateInZone,
  upcomingRuns,
  type ScheduleSpec,
} from '../../src/schedule/index.js';

// DST days of 2026: Europe/Berlin springs forward 02:00 CET -> 03:00 CEST on 03-29 and
// falls back 03:00 CEST -> 02:00 CET on 10-25; America/New_York springs forward
// 02:00 EST -> 03:00 EDT on 03-08 and falls back 02:00 EDT -> 01:00 EST on 11-01.
// Expected times are written with their local offset so they read as wall clock.
const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';
const FAR_FUTURE = new Date('2030-01-01T00:00:00Z');
const HOUR = 3_600_000;
const DAY_MS = 24 * HOUR;

function spec(schedule: string, timezone: string, start: string, overrides: Partial<ScheduleSpec> = {}): ScheduleSpec {
  return {
    schedule,
    timezone,
    startDate: parseDateInZone(start, timezone),
    endDate: null,
    catchup: true,
    ...overrides,
  };
}

/** The first n intervals as [start, end, hours]; instants compared exactly. */
function runs(s: ScheduleSpec, n: number): Array<[number, number, number]> {
  return upcomingRuns(s, null, FAR_FUTURE, n).map((r) => [
    r.interval.start.getTime(),
    r.interval.end.getTime(),
    (r.interval.end.getTime() - r.interval.start.getTime()) / HOUR,
  ]);
}

function expectRuns(s: ScheduleSpec, expected: Array<[string, string, number]>): void {
  expect(runs(s, expected.length)).toEqual(expected.map(([a, b, h]) => [Date.parse(a), Date.parse(b), h]));
}

describe('Europe/Berlin, spring forward (2026-03-29)', () => {
  it("'30 2 * * *' runs at 03:30 on the day 02:30 does not exist: a 24 h then a 23 h interval", () => {
    expectRuns(spec('30 2 * * *', BERLIN, '2026-03-27'), [
      ['2026-03-27T02:30+01:00', '2026-03-28T02:30+01:00', 24],
      ['2026-03-28T02:30+01:00', '2026-03-29T03:30+02:00', 24],
      ['2026-03-29T03:30+02:00', '2026-03-30T02:30+02:00', 23],
      ['2026-03-30T02:30+02:00', '2026-03-31T02:30+02:00', 24],
    ]);
  });

  it('hourly stays 60 minutes apart: 01:00 CET is followed by 03:00 CEST', () => {
    expectRuns(spec('0 * * * *', BERLIN, '2026-03-29T00:00'), [
      ['2026-03-29T00:00+01:00', '2026-03-29T01:00+01:00', 1],
      ['2026-03-29T01:00+01:00', '2026-03-29T03:00+02:00', 1],
      ['2026-03-29T03:00+02:00', '2026-03-29T04:00+02:00', 1],
    ]);
  });

  it('@daily has a 23 h interval for that day', () => {
    expectRuns(spec('@daily', BERLIN, '2026-03-28'), [
      ['2026-03-28T00:00+01:00', '2026-03-29T00:00+01:00', 24],
      ['2026-03-29T00:00+01:00', '2026-03-30T00:00+02:00', 23],
      ['2026-03-30T00:00+02:00', '2026-03-31T00:00+02:00', 24],
    ]);
  });

  it("a manual run after 03:30 covers the whole previous day's interval, never an empty one", () => {
    const run = manualRunInfo(spec('30 2 * * *', BERLIN, '2026-03-01'), new Date('2026-03-29T04:00+02:00'));
    expect(run.interval).toEqual({
      start: new Date('2026-03-28T02:30+01:00'),
      end: new Date('2026-03-29T03:30+02:00'),
    });
    expect(run.logicalDate).toEqual(new Date('2026-03-29T04:00+02:00'));
  });

  it('catchup=false later that morning picks the interval that ended at 03:30', () => {
    const s = spec('30 2 * * *', BERLIN, '2026-03-01', { catchup: false });
    const due = dueRuns(s, null, new Date('2026-03-29T08:00+02:00'), 10);
    expect(due.map((r) => [r.interval.start, r.interval.end])).toEqual([
      [new Date('2026-03-28T02:30+01:00'), new Date('2026-03-29T03:30+02:00')],
    ]);
  });

  it('a run is due exactly at 03:30 CEST, not at a nonexistent 02:30', () => {
    const s = spec('30 2 * * *', BERLIN, '2026-03-28');
    expect(dueRuns(s, null, new Date('2026-03-29T03:29+02:00'), 10)).toEqual([]);
    expect(dueRuns(s, null, new Date('2026-03-29T03:30+02:00'), 10)).toHaveLength(1);
  });
});

describe('Europe/Berlin, fall back (2026-10-25)', () => {
  it("'30 2 * * *' fires once, at the second 02:30 (CET): a 25 h interval", () => {
    expectRuns(spec('30 2 * * *', BERLIN, '2026-10-24'), [
      ['2026-10-24T02:30+02:00', '2026-10-25T02:30+01:00', 25],
      ['2026-10-25T02:30+01:00', '2026-10-26T02:30+01:00', 24],
    ]);
  });

  it('hourly fires at 02:00 CEST and again at 02:00 CET, every interval 1 h', () => {
    expectRuns(spec('0 * * * *', BERLIN, '2026-10-25T01:00'), [
      ['2026-10-25T01:00+02:00', '2026-10-25T02:00+02:00', 1],
      ['2026-10-25T02:00+02:00', '2026-10-25T02:00+01:00', 1],
      ['2026-10-25T02:00+01:00', '2026-10-25T03:00+01:00', 1],
      ['2026-10-25T03:00+01:00', '2026-10-25T04:00+01:00', 1],
    ]);
  });

  it('@daily has a 25 h interval for that day', () => {
    expectRuns(spec('@daily', BERLIN, '2026-10-25'), [
      ['2026-10-25T00:00+02:00', '2026-10-26T00:00+01:00', 25],
      ['2026-10-26T00:00+01:00', '2026-10-27T00:00+01:00', 24],
    ]);
  });

  it('during the first 02:xx (CEST) the 02:30 run is not due yet; it comes an hour later', () => {
    const s = spec('30 2 * * *', BERLIN, '2026-10-20');
    const last = { start: new Date('2026-10-23T02:30+02:00'), end: new Date('2026-10-24T02:30+02:00') };
    expect(dueRuns(s, last, new Date('2026-10-25T02:45+02:00'), 10)).toEqual([]);
    expect(nextDagRunInfo(s, last, new Date('2026-10-25T02:45+02:00'))?.runAfter).toEqual(
      new Date('2026-10-25T02:30+01:00'),
    );
    expect(dueRuns(s, last, new Date('2026-10-25T02:30+01:00'), 10)).toHaveLength(1);
  });

  it('catchup=false during the first 02:xx still treats the day before as the latest complete interval', () => {
    const s = spec('30 2 * * *', BERLIN, '2026-10-01', { catchup: false });
    const run = nextDagRunInfo(s, null, new Date('2026-10-25T02:45+02:00'));
    expect(run?.interval).toEqual({
      start: new Date('2026-10-23T02:30+02:00'),
      end: new Date('2026-10-24T02:30+02:00'),
    });
  });

  it('a manual run during the repeated hour covers the last interval that has ended', () => {
    const s = spec('30 2 * * *', BERLIN, '2026-10-01');
    expect(manualRunInfo(s, new Date('2026-10-25T02:45+02:00')).interval).toEqual({
      start: new Date('2026-10-23T02:30+02:00'),
      end: new Date('2026-10-24T02:30+02:00'),
    });
    expect(manualRunInfo(s, new Date('2026-10-25T02:45+01:00')).interval).toEqual({
      start: new Date('2026-10-24T02:30+02:00'),
      end: new Date('2026-10-25T02:30+01:00'),
    });
  });
});

describe('America/New_York, spring forward (2026-03-08)', () => {
  it("'30 2 * * *' runs at 03:30 EDT that day", () => {
    expectRuns(spec('30 2 * * *', NEW_YORK, '2026-03-07'), [
      ['2026-03-07T02:30-05:00', '2026-03-08T03:30-04:00', 24],
      ['2026-03-08T03:30-04:00', '2026-03-09T02:30-04:00', 23],
    ]);
  });

  it('hourly goes from 01:00 EST to 03:00 EDT, one hour later', () => {
    expectRuns(spec('@hourly', NEW_YORK, '2026-03-08T01:00'), [
      ['2026-03-08T01:00-05:00', '2026-03-08T03:00-04:00', 1],
      ['2026-03-08T03:00-04:00', '2026-03-08T04:00-04:00', 1],
    ]);
  });

  it('@daily has a 23 h interval', () => {
    expectRuns(spec('@daily', NEW_YORK, '2026-03-08'), [['2026-03-08T00:00-05:00', '2026-03-09T00:00-04:00', 23]]);
  });
});

describe('America/New_York, fall back (2026-11-01)', () => {
  it("'30 2 * * *' is not ambiguous there (01:00-02:00 repeats): a 25 h interval", () => {
    expectRuns(spec('30 2 * * *', NEW_YORK, '2026-10-31'), [
      ['2026-10-31T02:30-04:00', '2026-11-01T02:30-05:00', 25],
      ['2026-11-01T02:30-05:00', '2026-11-02T02:30-05:00', 24],
    ]);
  });

  it("'30 1 * * *' fires once, at the second 01:30 (EST)", () => {
    expectRuns(spec('30 1 * * *', NEW_YORK, '2026-10-31'), [
      ['2026-10-31T01:30-04:00', '2026-11-01T01:30-05:00', 25],
      ['2026-11-01T01:30-05:00', '2026-11-02T01:30-05:00', 24],
    ]);
  });

  it('every 30 minutes runs through both passes of 01:xx', () => {
    // Start at 00:30: a startDate written as 01:00 would itself be ambiguous (it reads as the later, EST one).
    expectRuns(spec('*/30 * * * *', NEW_YORK, '2026-11-01T00:30'), [
      ['2026-11-01T00:30-04:00', '2026-11-01T01:00-04:00', 0.5],
      ['2026-11-01T01:00-04:00', '2026-11-01T01:30-04:00', 0.5],
      ['2026-11-01T01:30-04:00', '2026-11-01T01:00-05:00', 0.5],
      ['2026-11-01T01:00-05:00', '2026-11-01T01:30-05:00', 0.5],
      ['2026-11-01T01:30-05:00', '2026-11-01T02:00-05:00', 0.5],
    ]);
  });

  it('@daily has a 25 h interval, and catchup=false the next morning picks it', () => {
    expectRuns(spec('@daily', NEW_YORK, '2026-11-01'), [['2026-11-01T00:00-04:00', '2026-11-02T00:00-05:00', 25]]);
    const s = spec('@daily', NEW_YORK, '2026-10-01', { catchup: false });
    expect(nextDagRunInfo(s, null, new Date('2026-11-02T09:00-05:00'))?.interval).toEqual({
      start: new Date('2026-11-01T00:00-04:00'),
      end: new Date('2026-11-02T00:00-05:00'),
    });
  });
});

describe('across every DST change of 2026', () => {
  const cases: Array<[string, string]> = [];
  for (const tz of [BERLIN, NEW_YORK]) {
    for (const schedule of [
      '30 2 * * *',
      '30 1 * * *',
      '0 * * * *',
      '*/20 * * * *',
      '0 */2 * * *',
      '@daily',
      '15 0-3 * * *',
    ])
      cases.push([schedule, tz]);
  }

  it.each(cases)("'%s' in %s: intervals are contiguous and manual runs agree with the schedule", (schedule, tz) => {
    for (const [day, until] of tz === BERLIN
      ? [
          ['2026-03-28', '2026-03-30'],
          ['2026-10-24', '2026-10-26'],
        ]
      : [
          ['2026-03-07', '2026-03-09'],
          ['2026-10-31', '2026-11-02'],
        ]) {
      // Two days either side of the change; endDate keeps the walk short.
      const s = spec(schedule, tz, day, { endDate: parseDateInZone(until, tz) });
      const all = upcomingRuns(s, null, FAR_FUTURE, 500);
      expect(all.at(-1)!.interval.end.getTime()).toBeGreaterThan(s.endDate!.getTime());
      for (let i = 0; i < all.length; i++) {
        const run = all[i];
        expect(run.interval.end.getTime()).toBeGreaterThan(run.interval.start.getTime());
        expect(run.runAfter).toEqual(run.interval.end);
        expect(run.logicalDate).toEqual(run.interval.start);
        if (i > 0) expect(run.interval.start).toEqual(all[i - 1].interval.end);
        // Triggered at a boundary or just after it, a manual run covers the interval that just ended.
        for (const offset of [0, 60_000]) {
          const at = new Date(run.interval.end.getTime() + offset);
          expect(manualRunInfo(s, at).interval).toEqual(run.interval);
        }
      }
      // Walking with the scheduler's own calls gives the same sequence.
      let last = null;
      for (const run of all.slice(0, 30)) {
        const next = nextDagRunInfo(s, last, run.runAfter);
        expect(next).toEqual(run);
        last = next!.interval;
      }
    }
  });

  it('weekday-hourly crossing the weekend change stays on the wall clock (Monday 00:00 CEST)', () => {
    expectRuns(spec('0 * * * 1-5', BERLIN, '2026-03-27T23:00'), [
      ['2026-03-27T23:00+01:00', '2026-03-30T00:00+02:00', 48],
    ]);
  });
});

describe('agrees with a brute-force scan of every minute around each DST change', () => {
  const MINUTE = 60_000;

  /** Every minute of [from, to) with its wall time (encoded as UTC ms), straight from luxon. */
  function minutes(tz: string, from: number, to: number): Array<{ t: number; wall: number }> {
    const out = [];
    for (let t = from; t < to; t += MINUTE)
      out.push({ t, wall: t + DateTime.fromMillis(t, { zone: tz }).offset * MINUTE });
    return out;
  }

  /**
   * The fire times by the documented rules, found by looking at every minute:
   * schedules with hour '*' fire at every instant whose wall time matches; others
   * fire once per matching wall time, at its later pass, or, for a wall time skipped
   * by DST, at the instant it is pushed to. (The schedules below restrict only
   * minute and hour.)
   */
  function bruteForce(schedule: string, scan: Array<{ t: number; wall: number }>): number[] {
    const { minute, hour } = CronExpressionParser.parse(schedule, { tz: 'UTC' }).fields;
    const everyHour = hour.values.length === 24;
    const matches = (wall: number) => {
      const d = new Date(wall);
      return (
        (minute.values as number[]).includes(d.getUTCMinutes()) && (hour.values as number[]).includes(d.getUTCHours())
      );
    };
    const byWall = new Map<number, number[]>();
    for (const { t, wall } of scan) if (matches(wall)) byWall.set(wall, [...(byWall.get(wall) ?? []), t]);
    const fires = new Set<number>();
    for (const instants of byWall.values()) {
      if (everyHour) for (const t of instants) fires.add(t);
      else fires.add(Math.max(...instants));
    }
    if (!everyHour) {
      // Wall times that never showed were skipped by a spring-forward jump: read
      // them with the offset before the jump.
      for (let i = 1; i < scan.length; i++) {
        for (let wall = scan[i - 1].wall + MINUTE; wall < scan[i].wall; wall += MINUTE) {
          if (matches(wall)) fires.add(wall - (scan[i - 1].wall - scan[i - 1].t));
        }
      }
    }
    return [...fires].sort((a, b) => a - b);
  }

  const changes: Array<[string, string]> = [
    [BERLIN, '2026-03-29T01:00:00Z'],
    [BERLIN, '2026-10-25T01:00:00Z'],
    [NEW_YORK, '2026-03-08T07:00:00Z'],
    [NEW_YORK, '2026-11-01T06:00:00Z'],
  ];
  const schedules = [
    '30 2 * * *',
    '30 1 * * *',
    '0 * * * *',
    '*/20 * * * *',
    '0 */2 * * *',
    '10,20 2,3 * * *',
    '*/10 1 * * *',
  ];

  it.each(changes)('%s around %s', (tz, change) => {
    const from = Date.parse(change) - 8 * HOUR;
    const to = Date.parse(change) + 8 * HOUR;
    // Two days of history: a daily interval ending just after `from` starts up to ~49 h earlier.
    const scan = minutes(tz, from - 2 * DAY_MS - 3 * HOUR, to + DAY_MS + 3 * HOUR);
    for (const schedule of schedules) {
      const fires = bruteForce(schedule, scan);
      const s = spec(schedule, tz, '2026-01-01');
      // Walk the schedule through the window: every interval ends at the next fire time.
      const walked = upcomingRuns(
        s,
        { start: new Date(0), end: new Date(fires.find((t) => t >= from)!) },
        FAR_FUTURE,
        60,
      )
        .map((r) => r.interval.start.getTime())
        .filter((t) => t < to);
      expect(walked, schedule).toEqual(fires.filter((t) => t >= from && t < to));
      // Manual runs at arbitrary moments: the interval ends at the last fire time <= the trigger.
      for (let at = from; at < to; at += 17 * MINUTE + 1234) {
        const end = Math.max(...fires.filter((t) => t <= at));
        const start = Math.max(...fires.filter((t) => t < end));
        const run = manualRunInfo(s, new Date(at));
        expect(
          [run.interval.start.getTime(), run.interval.end.getTime()],
          `${schedule} at ${new Date(at).toISOString()}`,
        ).toEqual([start, end]);
      }
    }
  });
});
