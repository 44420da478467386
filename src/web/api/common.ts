/**
 * Schemas every resource of the API shares: pagination, dates in query strings and bodies,
 * timestamps in responses, collections and the problem body. Schemas registered in
 * `responseSchemas` or `requestSchemas` become the OpenAPI document's components.
 */
import { z } from 'zod';
import { UpdraftError } from '../../errors.js';
import { checkDateText, dateInputRule } from '../../schedule/index.js';
import { int4Of, INT4_MAX, Text, TEXT_RULE, unstorableJsonPath } from '../../util/input.js';

export interface SchemaMeta {
  /** The component's name in the OpenAPI document. */
  id: string;
  description?: string;
}

/** Response bodies, documented as JSON carries them (zod's output side). */
export const responseSchemas = z.registry<SchemaMeta>();
/** Request bodies, documented as clients send them (zod's input side). */
export const requestSchemas = z.registry<SchemaMeta>();

/** An answer other than 200, with the problem's status, detail and the input field at fault. */
export class ApiError extends UpdraftError {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 503,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const Problem = z
  .object({
    type: z.literal('about:blank'),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    field: z
      .string()
      .optional()
      .describe('The input at fault: a query parameter, a path parameter, or a body field such as conf.region'),
  })
  .register(responseSchemas, { id: 'Problem', description: 'The one error body of the API (RFC 9457)' });

/** An instant in a response: ISO 8601 in UTC, as Date#toISOString writes it. */
export const Timestamp = z.iso.datetime();
export const iso = (date: Date): string => date.toISOString();
export const isoOrNull = (date: Date | null): string | null => date?.toISOString() ?? null;

/** Text a client sends (src/util/input.ts): every request schema uses it instead of z.string(). */
export { Text };

/**
 * A JSON object a client sends (a run's conf): any JSON, but every key and string in it
 * storable; the issue's path names the one at fault (conf.notes[2]).
 */
export const JsonObject = z.record(Text, z.unknown()).superRefine((value, ctx) => {
  const path = unstorableJsonPath(value);
  if (path) ctx.addIssue({ code: 'custom', message: TEXT_RULE, path });
});

const DATE_HINT = 'an ISO 8601 date or date-time, e.g. 2030-01-31, 2030-01-31T06:00:00Z or 2030-01-31T08:00:00+02:00';

/**
 * A date given by a client, as text: its form is checked here, its range (years 1 to 9999
 * in the zone it is read in) by `readDates` (src/web/api/dates.ts), which reads it by the
 * one rule (DATE_INPUT_RULE). An unencoded '+' of an offset reaches a query string as a
 * space; it is read back. `inputDate(what)` describes a field with the rule.
 */
export const InputDate = z
  .preprocess(
    (v) =>
      typeof v === 'string' ? v.trim().replace(/(\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?) (\d\d(?::?\d\d)?)$/, '$1+$2') : v,
    z.string({ error: `must be ${DATE_HINT}` }).superRefine((s, ctx) => {
      try {
        checkDateText(s);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `must be ${DATE_HINT} (${(error as Error).message.replace(/^cannot read date '.*?': /, '')})`,
        });
      }
    }),
  )
  .describe(dateDescription('A date'));

/** A date field described by what it selects, then the one rule: 'Runs whose logical date is at or after this. A date without Z…'. */
export const inputDate = (what: string) => InputDate.describe(dateDescription(what));

function dateDescription(what: string): string {
  return `${what}, ${DATE_HINT}. ${dateInputRule()}`;
}

/**
 * An integer in a query string or a path, read as the UI reads one (int4Of); within
 * PostgreSQL's integer (int4) unless `max` says otherwise; `fallback` when absent.
 */
export function intParam(min: number, max = INT4_MAX, fallback?: number) {
  const error = `must be an integer from ${min} to ${max}`;
  const int = z.int({ error }).min(min, { error }).max(max, { error });
  // Text that is no integer in range stays text, which z.int refuses with the message above.
  return z.preprocess(
    (v) => (typeof v === 'string' ? (int4Of(v, { min, max }) ?? v) : v),
    fallback === undefined ? int : int.default(fallback),
  );
}

/** `limit` and `offset`, as Airflow's stable API pages every list. */
export const paging = {
  limit: intParam(1, 1000, 100).describe('Most items to return (1 to 1000, default 100)'),
  offset: intParam(0, INT4_MAX, 0).describe('Items to skip (default 0)'),
};

/**
 * A query parameter that may repeat (`state=a&state=b`) or list values with commas
 * (`state=a,b`): always an array, of the allowed values when `values` are given.
 */
export function listParam<const T extends readonly [string, ...string[]]>(
  description: string,
  values: T,
): z.ZodOptional<z.ZodPipe<z.ZodTransform, z.ZodArray<z.ZodEnum<{ [K in T[number]]: K }>>>>;
export function listParam(description: string): z.ZodOptional<z.ZodPipe<z.ZodTransform, z.ZodArray<z.ZodString>>>;
export function listParam(description: string, values?: readonly [string, ...string[]]) {
  const item = values ? z.enum(values, { error: `must be one of ${values.join(', ')}` }) : Text;
  const split = (v: unknown) =>
    typeof v === 'string'
      ? v.split(',')
      : Array.isArray(v)
        ? v.flatMap((s: unknown) => (typeof s === 'string' ? s.split(',') : [s]))
        : v;
  return z.preprocess(split, z.array(item)).optional().describe(description);
}

/** `order_by`: a field, or '-field' for descending. */
export function orderParam<const T extends readonly [string, ...string[]]>(
  fields: T,
  fallback: `${'' | '-'}${T[number]}`,
) {
  const values = fields.flatMap((f) => [f, `-${f}`]) as [string, ...string[]];
  return z
    .enum(values, { error: `must be one of ${values.join(', ')}` })
    .default(fallback)
    .transform((v) => ({ field: v.replace(/^-/, '') as T[number], descending: v.startsWith('-') }))
    .describe(`Sort by a field, '-field' for descending (default ${fallback})`);
}

/** `{ <key>: [...items], total_entries }`, the shape of every list. */
export function collection<K extends string, T extends z.ZodType>(key: K, item: T, id: string) {
  return z
    .object({
      [key]: z.array(item),
      total_entries: z.int().min(0).describe('Items matching the filters, on every page'),
    } as { [P in K]: z.ZodArray<T> } & { total_entries: z.ZodNumber })
    .register(responseSchemas, { id, description: `A page of ${key}` });
}

/**
 * total_entries of a page read with `count(*) over ()`: every row carries it. An empty
 * page past the end carries nothing, and only then is the count asked separately.
 */
export async function totalOf(
  rows: readonly { total: number }[],
  offset: number,
  count: () => Promise<number>,
): Promise<number> {
  if (rows.length > 0) return rows[0]!.total;
  return offset === 0 ? 0 : count();
}

/** A LIKE pattern matching `text` anywhere, its wildcards taken literally. */
export function containing(text: string): string {
  return `%${text.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
}
