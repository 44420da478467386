import { ScheduleError } from '../errors.js';
import { DATE_RANGE_TEXT, isStorableDate } from '../util/input.js';
import { Zone } from './zone.js';

// YYYY-MM-DD, optionally THH:mm[:ss[.fff]] (or a space for T), optionally Z or ±HH[:mm].
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function unreadable(value: string, tz: string, reason?: string): ScheduleError {
  const why = reason ?? `expected 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:mm[:ss]' (wall time in ${tz}), or an ISO date-time ending in Z or an offset such as +02:00`;
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
 * An instant outside years 1 to 9999 (what the database stores) is refused.
 */
export function parseDateInZone(value: string | Date, tz: string): Date {
  const date = readDateInZone(value, tz);
  if (!isStorableDate(date)) throw unreadable(String(value instanceof Date ? value.toISOString() : value), tz, `it is not ${DATE_RANGE_TEXT}`);
  return date;
}

function readDateInZone(value: string | Date, tz: string): Date {
  const zone = Zone.of(tz);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new ScheduleError('cannot read date: it is an invalid Date');
    return value;
  }
  if (typeof value !== 'string') throw unreadable(String(value), tz);
  const m = DATE_TIME.exec(value.trim());
  if (!m) throw unreadable(value, tz);
  const [y, mo, d, h = 0, mi = 0, s = 0] = m.slice(1, 7).map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const outOfRange = mo < 1 || mo > 12 ? `month ${mo}` : h > 23 ? `hour ${h}` : mi > 59 ? `minute ${mi}` : s > 59 ? `second ${s}` : null;
  if (outOfRange) throw unreadable(value, tz, `${outOfRange} is out of range`);
  const wall = wallTime(y, mo, d, h, mi, s, ms);
  if (new Date(wall).getUTCDate() !== d) throw unreadable(value, tz, `there is no day ${d} in ${m[1]}-${m[2]}`);
  if (m[8] === undefined) return new Date(zone.localize(wall));
  const offset = offsetMs(m[8]);
  if (Number.isNaN(offset)) throw unreadable(value, tz, `offset '${m[8]}' is out of range`);
  return new Date(wall - offset);
}
