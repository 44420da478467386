/**
 * What PostgreSQL can store of what a user sends, checked before it gets there (the API's
 * schemas, the UI's forms and query strings, services such as backfills): text without
 * NUL characters or unpaired UTF-16 surrogates (SQLSTATE 22021, and 22P05 / 22P02 in
 * jsonb), integers within int4 (22003), instants within years 1 to 9999 (22008; drizzle
 * writes a date with toISOString, which PostgreSQL reads in those years only).
 */

import { z } from 'zod';
import { InputError } from '../errors.js';

export const INT4_MIN = -2_147_483_648;
export const INT4_MAX = 2_147_483_647;

/** 0001-01-01T00:00:00Z (written out: Date.UTC maps years 0-99 to 1900-1999) to 9999-12-31T23:59:59.999Z. */
export const MIN_TIME = -62_135_596_800_000;
export const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
export const DATE_RANGE_TEXT = 'within years 1 to 9999';

// A NUL, a high surrogate not followed by a low one, or a low surrogate not after a high one.
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const TEXT_RULE = 'must not contain NUL characters (\\u0000) or unpaired surrogates (\\ud800-\\udfff)';

/** True when PostgreSQL cannot store `text` (a NUL, an unpaired surrogate). */
export function isUnstorableText(text: string): boolean {
  return UNSTORABLE.test(text);
}

/**
 * A zod string that PostgreSQL can store (no NUL, no unpaired surrogate): what every
 * request schema (the API's, the login form's) uses for text instead of z.string().
 */
export const Text = z.string().refine((s) => !isUnstorableText(s), { error: TEXT_RULE });

/**
 * The path, as [key or index, ...], of the first key or string inside a JSON value that
 * PostgreSQL cannot store; undefined when every one can.
 */
export function unstorableJsonPath(value: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (typeof value === 'string') return isUnstorableText(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableJsonPath(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (isUnstorableText(key)) return [...path, key];
      const found = unstorableJsonPath(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

export function isInt4(n: number): boolean {
  return Number.isInteger(n) && n >= INT4_MIN && n <= INT4_MAX;
}

/** Bounds of an integer a user gives, within int4 (the defaults); `name` is how a message calls it (default: the field). */
export interface Int4Options {
  min?: number;
  max?: number;
  name?: string;
}

/**
 * The integer `value` says, from `min` to `max` (within int4): text of digits with an
 * optional minus (no spaces, exponents or hex), or a number; undefined for anything else.
 */
export function int4Of(
  value: string | number,
  { min = INT4_MIN, max = INT4_MAX }: Int4Options = {},
): number | undefined {
  const n = typeof value === 'number' ? value : /^-?\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  return isInt4(n) && n >= min && n <= max ? n : undefined;
}

/** `int4Of`, or an InputError naming `field`: "page must be a whole number from 1 to 2147483647, not 'x'". */
export function parseInt4(value: string | number, field: string, options: Int4Options = {}): number {
  const n = int4Of(value, options);
  if (n !== undefined) return n;
  const { min = INT4_MIN, max = INT4_MAX, name = field } = options;
  throw new InputError(
    `${name} must be a whole number from ${min} to ${max}, not ${typeof value === 'string' ? `'${value}'` : String(value)}`,
    field,
  );
}

/** True when PostgreSQL stores `date` as it is (a valid Date within years 1 to 9999). */
export function isStorableDate(date: Date): boolean {
  const t = date.getTime();
  return t >= MIN_TIME && t <= MAX_TIME;
}
