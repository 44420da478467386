import { DateTime } from 'luxon';
import { ScheduleError } from '../errors.js';
import { DATE_RANGE_TEXT, isStorableDate, MAX_TIME, MIN_TIME } from '../util/input.js';
import { Zone } from './zone.js';

// YYYY-MM-DD, optionally THH:mm[:ss[.fff]] (or a space for T), optionally Z or ±HH[:mm].
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function unreadable(value: string, tz: string, reason?: string): ScheduleError {
  const why =
    reason ??
    `expected 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:mm[:ss]' (wall time in ${tz}), or an ISO date-time ending in Z or an offset such as +02:00`;
  return new ScheduleError(`cannot read date '${value}': ${why}`);
}

function wallTime(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  return date.getTime();
}

function offsetMs(text: string): number {
  if (text.toUpperCase() === 'Z') return 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const digits = text.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return Number.NaN;
  return sign * (hours * 60 + minutes) * 60_000;
}

/**
 * Read a DAG's startDate/endDate. A date or a date-time without an offset is a wall
 * time in `tz` ('2026-01-01' is midnight there), localized by the same rule as cron
 * fire times: a time that happens twice is its later pass, a time skipped by DST
 * moves forward by the jump. A 'Z' or an offset is respected; a Date passes through.
 * `zoneName` names the zone in error messages (for a check made before the zone is known).
 * An instant outside years 1 to 9999 (what the database stores) is refused.
 */
export function parseDateInZone(value: string | Date, tz: string, zoneName = tz): Date {
  const date = readDateInZone(value, tz, zoneName);
  if (!isStorableDate(date))
    throw unreadable(
      String(value instanceof Date ? value.toISOString() : value),
      zoneName,
      `it is not ${DATE_RANGE_TEXT}`,
    );
  return date;
}

/**
 * Check the form of a typed date ('2026-02-30' and '+25:00' are refused) without reading it
 * in a zone, so without the range check: parseDateInZone makes that in the zone it uses.
 */
export function checkDateText(value: string): void {
  readDateInZone(value, 'UTC', 'the zone it is read in');
}

function readDateInZone(value: string | Date, tz: string, zoneName: string): Date {
  const zone = Zone.of(tz);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new ScheduleError('cannot read date: it is an invalid Date');
    return value;
  }
  if (typeof value !== 'string') throw unreadable(String(value), zoneName);
  const m = DATE_TIME.exec(value.trim());
  if (!m) throw unreadable(value, zoneName);
  const [y, mo, d, h = 0, mi = 0, s = 0] = m
    .slice(1, 7)
    .map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const outOfRange =
    mo < 1 || mo > 12 ? `month ${mo}` : h > 23 ? `hour ${h}` : mi > 59 ? `minute ${mi}` : s > 59 ? `second ${s}` : null;
  if (outOfRange) throw unreadable(value, zoneName, `${outOfRange} is out of range`);
  const wall = wallTime(y, mo, d, h, mi, s, ms);
  if (new Date(wall).getUTCDate() !== d) throw unreadable(value, zoneName, `there is no day ${d} in ${m[1]}-${m[2]}`);
  if (m[8] === undefined) return new Date(zone.localize(wall));
  const offset = offsetMs(m[8]);
  if (Number.isNaN(offset)) throw unreadable(value, zoneName, `offset '${m[8]}' is out of range`);
  return new Date(wall - offset);
}

/**
 * The one rule for a date a user types (CLI flags and arguments, forms, API filters), in
 * the words every help text and doc uses.
 */
export const DATE_INPUT_RULE =
  "a date without Z or an offset is read in the DAG's timezone ('2026-11-03' is midnight there), in UTC where there is no DAG; with Z or an offset (+01:00) it is that instant";

/** DATE_INPUT_RULE as a sentence, naming the DAG's zone when there is one: "…the DAG's timezone (Europe/Berlin)…". */
export function dateInputRule(timezone?: string): string {
  const rule = timezone
    ? DATE_INPUT_RULE.replace("the DAG's timezone", `the DAG's timezone (${timezone})`)
    : DATE_INPUT_RULE;
  return `${rule.charAt(0).toUpperCase()}${rule.slice(1)}.`;
}

const DAY_ONLY = /^\s*(\d{4})-(\d{2})-(\d{2})\s*$/;

/**
 * The last bound of a range of dates, read as parseDateInZone does, except that a day
 * without a time covers that whole day: '2026-01-31' is the last millisecond of the 31st
 * in `tz`, so a range to it includes a run at 02:00 on the 31st.
 */
export function parseRangeEndInZone(value: string | Date, tz: string): Date {
  const day = typeof value === 'string' ? DAY_ONLY.exec(value) : null;
  if (!day) return parseDateInZone(value, tz);
  readDateInZone(value as string, tz, tz); // the same errors for a day that does not exist
  // The next day's midnight, from numbers: the day after 9999-12-31 has no ISO text to read.
  const nextMidnight = wallTime(Number(day[1]), Number(day[2]), Number(day[3]) + 1, 0, 0, 0, 0);
  const end = Math.min(Zone.of(tz).localize(nextMidnight) - 1, MAX_TIME);
  if (end < MIN_TIME) throw unreadable(value as string, tz, `it is not ${DATE_RANGE_TEXT}`);
  return new Date(end);
}

/** An instant in a DAG's timezone, with its offset: '2030-03-28T06:30:00+01:00'. */
export function inZone(date: Date, zone: string): string {
  return DateTime.fromJSDate(date, { zone }).toISO({ suppressMilliseconds: true }) ?? date.toISOString();
}
