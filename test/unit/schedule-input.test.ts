import { describe, expect, it } from 'vitest';
import { ScheduleError } from '../../src/errors.js';
import {
  PRESETS,
  checkDateText,
  dateInputRule,
  dueRuns,
  manualRunInfo,
  nextDagRunInfo,
  parseDateInZone,
  parseRangeEndInZone,
  validateSchedule,
  validateTimezone,
} from '../../src/schedule/index.js';

function scheduleError(fn: () => unknown): ScheduleError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleError);
    return error as ScheduleError;
  }
  throw new Error('expected a ScheduleError');
}

describe('presets', () => {
  it("map to Airflow's crons, @once to null", () => {
    expect(PRESETS).toEqual({
      '@once': null,
      '@hourly': '0 * * * *',
      '@daily': '0 0 * * *',
      '@midnight': '0 0 * * *',
      '@weekly': '0 0 * * 0',
      '@monthly': '0 0 1 * *',
      '@quarterly': '0 0 1 */3 *',
      '@yearly': '0 0 1 1 *',
      '@annually': '0 0 1 1 *',
    });
  });

  it('cannot be changed at run time', () => {
    expect(() => {
      PRESETS['@daily'] = '0 1 * * *';
    }).toThrow();
  });

  it('@weekly runs Sunday midnight to Sunday midnight, @monthly first to first', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const spec = { timezone: 'UTC', startDate: start, endDate: null, catchup: true };
    expect(nextDagRunInfo({ ...spec, schedule: '@weekly' }, null, start)?.interval).toEqual({
      start: new Date('2026-01-04T00:00:00Z'),
      end: new Date('2026-01-11T00:00:00Z'),
    });
    expect(nextDagRunInfo({ ...spec, schedule: '@monthly' }, null, start)?.interval).toEqual({
      start: new Date('2026-01-01T00:00:00Z'),
      end: new Date('2026-02-01T00:00:00Z'),
    });
  });
});

describe('validateSchedule', () => {
  it.each([
    '@once',
    '@hourly',
    '@daily',
    '@midnight',
    '@weekly',
    '@monthly',
    '@yearly',
    '@annually',
    '0 2 * * *',
    '*/15 9-17 * * MON-FRI',
    '0 0 L * *',
    '0 0 29 2 *',
    ' 0 2 * * * ',
  ])('accepts %j', (schedule) => expect(() => validateSchedule(schedule, 'Europe/Berlin')).not.toThrow());

  it.each([
    ['61 * * * *', "invalid cron expression '61 * * * *': Constraint error, got value 61 expected range 0-59"],
    ['* * *', "invalid cron expression '* * *': expected 5 fields (minute hour day-of-month month day-of-week), got 3"],
    ['0 0 * * * *', "invalid cron expression '0 0 * * * *': expected 5 fields"],
    ['', "invalid cron expression '': expected 5 fields"],
    ['every day', "invalid cron expression 'every day'"],
    ['0 0 30 2 *', "invalid cron expression '0 0 30 2 *'"],
    ['H 2 * * *', "invalid cron expression 'H 2 * * *': 'H' (hashed values) is not supported"],
    ['@dayly', "unknown schedule preset '@dayly': use one of @once, @hourly, @daily"],
    ['@DAILY', "unknown schedule preset '@DAILY'"],
    ['@continuous', "schedule preset '@continuous': Airflow's run-after-run schedule is not supported"],
  ])('rejects %j', (schedule, message) => {
    expect(scheduleError(() => validateSchedule(schedule, 'UTC')).message).toContain(message);
  });

  it('rejects an unknown timezone, naming it', () => {
    expect(scheduleError(() => validateSchedule('@daily', 'Mars/Olympus_Mons')).message).toContain(
      "unknown timezone 'Mars/Olympus_Mons'",
    );
  });

  it('the scheduling functions refuse an invalid clock', () => {
    const spec = { schedule: '@daily', timezone: 'UTC', startDate: new Date(0), endDate: null, catchup: true };
    expect(scheduleError(() => dueRuns(spec, null, new Date('soon'), 10)).message).toBe('now is not a valid Date');
    expect(scheduleError(() => manualRunInfo(spec, new Date('soon'))).message).toBe(
      'the trigger time is not a valid Date',
    );
  });

  it('is what the scheduling functions apply too', () => {
    const spec = { schedule: '0 25 * * *', timezone: 'UTC', startDate: new Date(0), endDate: null, catchup: true };
    expect(scheduleError(() => nextDagRunInfo(spec, null, new Date())).message).toContain("'0 25 * * *'");
  });
});

describe('validateTimezone', () => {
  it.each(['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'])('accepts %s', (tz) =>
    expect(() => validateTimezone(tz)).not.toThrow(),
  );

  it.each(['Europe/Berlinn', 'Mars/Base', '', '+02:00', 'GMT+25'])('rejects %j with a message naming it', (tz) => {
    expect(scheduleError(() => validateTimezone(tz)).message).toMatch(
      new RegExp(`^unknown timezone '${tz.replace(/[+]/g, '\\+')}'`),
    );
  });
});

describe('parseDateInZone', () => {
  it.each([
    ['2026-01-01', 'Europe/Berlin', '2025-12-31T23:00:00.000Z'],
    ['2026-07-01', 'Europe/Berlin', '2026-06-30T22:00:00.000Z'],
    ['2026-01-01T02:00', 'America/New_York', '2026-01-01T07:00:00.000Z'],
    ['2026-01-01 02:00:30', 'UTC', '2026-01-01T02:00:30.000Z'],
    ['2026-01-01T02:00:00.250', 'UTC', '2026-01-01T02:00:00.250Z'],
    ['2026-01-01T02:00:00Z', 'Europe/Berlin', '2026-01-01T02:00:00.000Z'],
    ['2026-01-01T02:00+05:30', 'Europe/Berlin', '2025-12-31T20:30:00.000Z'],
    ['2026-01-01T02:00:00-0800', 'Europe/Berlin', '2026-01-01T10:00:00.000Z'],
  ])('reads %s in %s', (text, tz, iso) => expect(parseDateInZone(text, tz).toISOString()).toBe(iso));

  it('reads a wall time skipped by DST as the time it moves to, and a repeated one as its later pass', () => {
    expect(parseDateInZone('2026-03-29T02:30', 'Europe/Berlin')).toEqual(new Date('2026-03-29T03:30+02:00'));
    expect(parseDateInZone('2026-10-25T02:30', 'Europe/Berlin')).toEqual(new Date('2026-10-25T02:30+01:00'));
    expect(parseDateInZone('2026-11-01T01:30', 'America/New_York')).toEqual(new Date('2026-11-01T01:30-05:00'));
  });

  it('passes a Date through', () => {
    const date = new Date('2026-05-05T05:05:05Z');
    expect(parseDateInZone(date, 'Asia/Tokyo')).toBe(date);
  });

  it.each([
    ['yesterday', "cannot read date 'yesterday': expected 'YYYY-MM-DD'"],
    ['2026-02-30', "cannot read date '2026-02-30': there is no day 30 in 2026-02"],
    ['2026-13-01', "cannot read date '2026-13-01': month 13 is out of range"],
    ['2026-01-01T24:00', "cannot read date '2026-01-01T24:00': hour 24 is out of range"],
    ['2026-01-01T02:00+25:00', "offset '+25:00' is out of range"],
    ['01/02/2026', "cannot read date '01/02/2026'"],
  ])('rejects %j', (text, message) => {
    expect(scheduleError(() => parseDateInZone(text, 'UTC')).message).toContain(message);
  });

  it('rejects an invalid Date and an unknown timezone', () => {
    expect(scheduleError(() => parseDateInZone(new Date('nope'), 'UTC')).message).toContain('invalid Date');
    expect(scheduleError(() => parseDateInZone('2026-01-01', 'Nowhere/City')).message).toContain(
      "unknown timezone 'Nowhere/City'",
    );
  });
});

describe('parseRangeEndInZone', () => {
  it('reads a day as its last millisecond in the zone', () => {
    expect(parseRangeEndInZone('2026-01-31', 'Europe/Berlin').toISOString()).toBe('2026-01-31T22:59:59.999Z');
    expect(parseRangeEndInZone('2026-01-31T06:00', 'Europe/Berlin').toISOString()).toBe('2026-01-31T05:00:00.000Z');
  });

  it('ends 9999-12-31 at the last storable instant, in any zone', () => {
    expect(parseRangeEndInZone('9999-12-31', 'UTC').toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(parseRangeEndInZone('9999-12-31', 'America/New_York').toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(parseRangeEndInZone('9999-12-31', 'Asia/Tokyo').toISOString()).toBe('9999-12-31T14:59:59.999Z');
  });

  it('refuses a day that does not exist or ends before year 1', () => {
    expect(scheduleError(() => parseRangeEndInZone('2026-02-30', 'UTC')).message).toContain(
      'there is no day 30 in 2026-02',
    );
    expect(scheduleError(() => parseRangeEndInZone('0000-12-31', 'UTC')).message).toContain('within years 1 to 9999');
  });
});

describe('checkDateText', () => {
  it('checks the form only: the range depends on the zone a date is read in', () => {
    expect(() => checkDateText('0001-01-01')).not.toThrow();
    expect(() => checkDateText('9999-12-31T23:30')).not.toThrow();
    expect(scheduleError(() => checkDateText('2026-02-30')).message).toContain('there is no day 30 in 2026-02');
  });
});

describe('dateInputRule', () => {
  it("is DATE_INPUT_RULE as a sentence, naming the DAG's zone", () => {
    expect(dateInputRule()).toBe(
      "A date without Z or an offset is read in the DAG's timezone ('2026-11-03' is midnight there), in UTC where there is no DAG; with Z or an offset (+01:00) it is that instant.",
    );
    expect(dateInputRule('Europe/Berlin')).toContain(
      "read in the DAG's timezone (Europe/Berlin) ('2026-11-03' is midnight there)",
    );
  });
});
