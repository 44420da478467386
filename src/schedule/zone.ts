import { IANAZone } from 'luxon';
import { ScheduleError } from '../errors.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
// DST moves clocks by at most 2 h (1 h almost everywhere): an offset change more
// than this far from an instant cannot reorder the wall times around it.
const DST_REACH = 3 * HOUR;

export function validateTimezone(tz: string): void {
  if (typeof tz !== 'string' || tz.trim() === '' || !IANAZone.isValidZone(tz)) {
    throw new ScheduleError(
      `unknown timezone '${String(tz)}': use an IANA name such as 'UTC', 'Europe/Berlin' or 'America/New_York'`,
    );
  }
}

/**
 * What a wall-clock time (a local date and time in a zone, encoded as if it were
 * UTC milliseconds) is in real time:
 * - `single`: one instant (the usual case);
 * - `repeated`: it happens twice, when clocks go back (the earlier and the later instant);
 * - `gap`: it does not exist, clocks jumped over it; `shifted` is where it lands when
 *   read with the offset in force before the jump (02:30 in a 02:00->03:00 jump is 03:30).
 * `minOffset`/`maxOffset` bound the offsets in force around it, so every instant
 * showing this wall time lies in [wall - maxOffset, wall - minOffset].
 */
export type WallTime =
  | { kind: 'single'; at: number; minOffset: number; maxOffset: number }
  | { kind: 'repeated'; earlier: number; later: number; minOffset: number; maxOffset: number }
  | { kind: 'gap'; shifted: number; minOffset: number; maxOffset: number };

/** One UTC day's offsets: constant, or a change at `at` (ms). */
type DayOffsets = number | { at: number; before: number; after: number };

/**
 * A time zone with a per-UTC-day offset cache. luxon's offset lookup costs ~6.5 µs
 * (Intl formatting, measured on the 2-core box) and a schedule step needs several;
 * cached, a lookup is a Map hit. Assumes at most one offset change per 48 hours,
 * true of every zone in tzdata since 1970.
 */
export class Zone {
  private static readonly zones = new Map<string, Zone>();

  static of(name: string): Zone {
    let zone = Zone.zones.get(name);
    if (!zone) {
      validateTimezone(name);
      zone = new Zone(name, IANAZone.create(name));
      Zone.zones.set(name, zone);
    }
    return zone;
  }

  private readonly days = new Map<number, DayOffsets>();

  private constructor(
    readonly name: string,
    private readonly iana: IANAZone,
  ) {}

  private raw(ms: number): number {
    return Math.round(this.iana.offset(ms) * MINUTE);
  }

  private day(day: number): DayOffsets {
    let offsets = this.days.get(day);
    if (offsets === undefined) {
      const start = day * DAY;
      const before = this.raw(start);
      const after = this.raw(start + DAY - 1);
      if (before === after) {
        offsets = before;
      } else {
        // Binary search for the first millisecond on the new offset (~27 lookups, twice a year).
        let lo = start;
        let hi = start + DAY - 1;
        while (lo < hi) {
          const mid = Math.floor((lo + hi) / 2);
          if (this.raw(mid) === before) lo = mid + 1;
          else hi = mid;
        }
        offsets = { at: lo, before, after };
      }
      if (this.days.size >= 4096) this.days.clear();
      this.days.set(day, offsets);
    }
    return offsets;
  }

  /** Offset from UTC in milliseconds at the instant `ms`. */
  offset(ms: number): number {
    const offsets = this.day(Math.floor(ms / DAY));
    return typeof offsets === 'number' ? offsets : ms < offsets.at ? offsets.before : offsets.after;
  }

  /** The wall-clock reading at instant `ms`, encoded as UTC milliseconds. */
  wallOf(ms: number): number {
    return ms + this.offset(ms);
  }

  /** How far the offset moves within reach of `ms` (0 away from DST changes). */
  slackAround(ms: number): number {
    return Math.abs(this.offset(ms + DST_REACH) - this.offset(ms - DST_REACH));
  }

  /** True when no offset change is within reach of `ms`: nearby wall times keep their order. */
  steadyAround(ms: number): boolean {
    return this.slackAround(ms) === 0;
  }

  resolve(wall: number): WallTime {
    // Every instant showing `wall` lies within 14 h of it, so the offsets a day
    // either side bound the candidates.
    const before = this.offset(wall - DAY);
    const after = this.offset(wall + DAY);
    const minOffset = Math.min(before, after);
    const maxOffset = Math.max(before, after);
    if (before === after) return { kind: 'single', at: wall - before, minOffset, maxOffset };
    const a = wall - before;
    const b = wall - after;
    const aValid = this.offset(a) === before;
    const bValid = this.offset(b) === after;
    if (aValid && bValid) {
      return { kind: 'repeated', earlier: Math.min(a, b), later: Math.max(a, b), minOffset, maxOffset };
    }
    if (aValid || bValid) return { kind: 'single', at: aValid ? a : b, minOffset, maxOffset };
    return { kind: 'gap', shifted: a, minOffset, maxOffset };
  }

  /**
   * The instant for a wall-clock time, by Airflow's rule (`make_aware` with fold=1):
   * a repeated time is the later instant, a skipped time moves forward by the jump.
   */
  localize(wall: number): number {
    const w = this.resolve(wall);
    return w.kind === 'single' ? w.at : w.kind === 'repeated' ? w.later : w.shifted;
  }
}
