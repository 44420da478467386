import { z } from 'zod';
import { columnField, columnsField, connField, tableField } from './fields.js';

/** Types a cast rule may convert to. */
export const CAST_TYPES = [
  'integer',
  'bigint',
  'numeric',
  'double precision',
  'boolean',
  'date',
  'timestamp',
  'timestamptz',
  'uuid',
  'text',
  'jsonb',
] as const;
export type CastType = (typeof CAST_TYPES)[number];

/**
 * One cleansing rule. Transformations (trim, lower, upper, nullIf, default, cast)
 * change values; checks (required, regex, range, allowed, and a cast that fails) reject
 * the row to the quarantine table; dedupe keeps one row per key. Rules apply in order.
 */
export type CleanseRule =
  | { rule: 'trim'; columns: string[] }
  | { rule: 'lower'; columns: string[] }
  | { rule: 'upper'; columns: string[] }
  | { rule: 'nullIf'; column: string; values: (string | number)[] }
  | { rule: 'default'; column: string; value: string | number | boolean }
  | { rule: 'cast'; column: string; to: CastType }
  | { rule: 'required'; columns: string[] }
  | { rule: 'regex'; column: string; pattern: string }
  | { rule: 'range'; column: string; min?: number | string; max?: number | string }
  | { rule: 'allowed'; column: string; values: (string | number)[] }
  | { rule: 'dedupe'; key: string[]; keepLatestBy: string };

/** `t.cleanse(id, config)`: rules run as set-based SQL inside the database, in one transaction. */
export interface CleanseConfig {
  conn: string;
  /** The table cleansed. */
  table: string;
  /** Where clean rows go: replaced in one transaction. Default: `table` itself, cleansed in place. */
  into?: string;
  /** Where rejected rows go, with the rule and the reason. Default `<table>_quarantine`; created when missing. */
  quarantine?: string;
  rules: CleanseRule[];
}

/** A cleanse task's result (its XCom). */
export interface CleanseResult {
  rowsIn: number;
  /** Rows where a transformation changed at least one value. */
  changed: number;
  rejected: number;
  /** Rows dropped as duplicates. */
  deduplicated: number;
  rowsOut: number;
  /** Rejected rows per rule, by the rule's position and kind ('3:regex'). */
  rejectedByRule: Record<string, number>;
}

const scalar = z.union([z.string(), z.number()]);
const ruleSchema = z.discriminatedUnion('rule', [
  z.strictObject({ rule: z.literal('trim'), columns: columnsField }),
  z.strictObject({ rule: z.literal('lower'), columns: columnsField }),
  z.strictObject({ rule: z.literal('upper'), columns: columnsField }),
  z.strictObject({ rule: z.literal('nullIf'), column: columnField, values: z.array(scalar).min(1) }),
  z.strictObject({
    rule: z.literal('default'),
    column: columnField,
    value: z.union([z.string(), z.number(), z.boolean()]),
  }),
  z.strictObject({ rule: z.literal('cast'), column: columnField, to: z.enum(CAST_TYPES) }),
  z.strictObject({ rule: z.literal('required'), columns: columnsField }),
  z.strictObject({
    rule: z.literal('regex'),
    column: columnField,
    pattern: z
      .string()
      .min(1)
      .refine(
        (p) => {
          try {
            new RegExp(p);
            return true;
          } catch {
            return false;
          }
        },
        { message: 'is not a valid regular expression' },
      ),
  }),
  z
    .strictObject({ rule: z.literal('range'), column: columnField, min: scalar.optional(), max: scalar.optional() })
    .refine((r) => r.min !== undefined || r.max !== undefined, { message: 'give min, max or both' }),
  z.strictObject({ rule: z.literal('allowed'), column: columnField, values: z.array(scalar).min(1) }),
  z.strictObject({ rule: z.literal('dedupe'), key: columnsField, keepLatestBy: columnField }),
]);

export const cleanseSchema = z.strictObject({
  conn: connField,
  table: tableField,
  into: tableField.optional(),
  quarantine: tableField.optional(),
  rules: z.array(ruleSchema).min(1, { message: 'give at least one rule' }),
}) as unknown as z.ZodType<CleanseConfig>;
