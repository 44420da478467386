/**
 * What PostgreSQL can store of a user's input (src/util/input.ts), the API's shared request
 * types built on it (src/web/api/common.ts), and dates out of the database's range.
 */
import { describe, expect, it } from 'vitest';
import { parseDateInZone } from '../../src/schedule/index.js';
import { int4Of, isStorableDate, isUnstorableText, parseInt4, unstorableJsonPath } from '../../src/util/input.js';
import { InputDate, intParam, JsonObject, Text } from '../../src/web/api/common.js';
import { resolveConf } from '../../src/dag/params.js';

describe('storable input', () => {
  it('refuses NUL characters and unpaired surrogates, and keeps paired ones (emoji)', () => {
    for (const bad of ['\u0000', 'a\u0000b', '\ud800', 'x\udc00', '\udc00\ud800'])
      expect(isUnstorableText(bad), JSON.stringify(bad)).toBe(true);
    for (const good of ['', 'plain', 'caf\u00e9', '\ud83d\ude80 rocket', 'tab\tnewline\n'])
      expect(isUnstorableText(good), good).toBe(false);
    expect(Text.safeParse('a\u0000b').success).toBe(false);
    expect(Text.safeParse('\ud83d\ude80').success).toBe(true);
  });

  it('finds the key or string of a JSON value that cannot be stored, and names it in a conf', () => {
    expect(unstorableJsonPath({ a: [1, 'ok', { b: 'x\ud800' }] })).toEqual(['a', 2, 'b']);
    expect(unstorableJsonPath({ 'k\u0000': 1 })).toEqual(['k\u0000']);
    expect(unstorableJsonPath({ a: [null, 1e300, true, 'fine'] })).toBeUndefined();
    const parsed = JsonObject.safeParse({ notes: ['ok', '\u0000'] });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['notes', 1]);
    expect(() => resolveConf({}, { region: { name: 'eu\u0000' } }, 'd', 'conf')).toThrow(
      /^conf\.region\.name: must not contain NUL/,
    );
  });

  it('keeps integers within PostgreSQL integer', () => {
    const mapIndex = intParam(-1);
    expect(mapIndex.safeParse('2147483647').success).toBe(true);
    for (const bad of ['2147483648', '99999999999999999999', '1e309', 'NaN', '-2'])
      expect(mapIndex.safeParse(bad).success, bad).toBe(false);
  });

  it('reads an integer one way everywhere: digits and a minus, within int4 and the bounds, else an error naming the field', () => {
    expect(int4Of('-2147483648')).toBe(-2147483648);
    expect(int4Of('2147483647', { min: 1 })).toBe(2147483647);
    expect(int4Of(7, { min: 1 })).toBe(7);
    for (const bad of ['', ' 5', '5 ', '0x10', '1e3', '1.0', '+1', '2147483648', '0'])
      expect(int4Of(bad, { min: 1 }), JSON.stringify(bad)).toBeUndefined();
    for (const bad of [0, 1.5, Number.NaN, 2 ** 31]) expect(int4Of(bad, { min: 1 }), String(bad)).toBeUndefined();
    expect(() => parseInt4('many', 'max_active_runs', { min: 1, name: 'max active runs' })).toThrow(
      expect.objectContaining({
        field: 'max_active_runs',
        message: "max active runs must be a whole number from 1 to 2147483647, not 'many'",
      }),
    );
    expect(() => parseInt4(0, 'maxActiveRuns', { min: 1 })).toThrow(
      'maxActiveRuns must be a whole number from 1 to 2147483647, not 0',
    );
    // The API reads a number in a query string or path as the pages do: no hex, exponent or spaces.
    const offset = intParam(0, 2147483647, 0);
    expect(offset.safeParse(undefined).data).toBe(0);
    expect(offset.safeParse('12').data).toBe(12);
    for (const bad of ['0x10', '1e3', ' 5', ''])
      expect(offset.safeParse(bad).error?.issues[0]?.message, JSON.stringify(bad)).toBe(
        'must be an integer from 0 to 2147483647',
      );
  });

  it('keeps dates within years 1 to 9999, after their timezone too', () => {
    expect(isStorableDate(new Date('0001-01-01T00:00:00Z'))).toBe(true);
    expect(isStorableDate(new Date('9999-12-31T23:59:59.999Z'))).toBe(true);
    expect(() => parseDateInZone('0000-01-01', 'UTC')).toThrow(
      "cannot read date '0000-01-01': it is not within years 1 to 9999",
    );
    expect(() => parseDateInZone('0001-01-01', 'Asia/Tokyo')).toThrow(/not within years 1 to 9999/);
    expect(parseDateInZone('0001-01-01', 'UTC').toISOString()).toBe('0001-01-01T00:00:00.000Z');
    // InputDate checks the form; the range is checked where the date is read, in its zone (readDates).
    for (const bad of ['10000-01-01', 'tomorrow', '2026-02-30', '2026-01-01T02:00+25:00'])
      expect(InputDate.safeParse(bad).success, bad).toBe(false);
    for (const good of ['0001-01-01', '9999-12-31T23:00']) expect(InputDate.safeParse(good).success, good).toBe(true);
    expect(InputDate.safeParse('2026-11-03').data).toBe('2026-11-03');
    // A '+' of an offset that a query string turned into a space.
    expect(InputDate.safeParse('2026-11-03T06:00:00 02:00').data).toBe('2026-11-03T06:00:00+02:00');
    expect(InputDate.safeParse('2026-11-03 06:00').data).toBe('2026-11-03 06:00');
  });
});
