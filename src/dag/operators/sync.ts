import { z } from 'zod';
import { DURATION_HINT, durationMs, type Duration } from '../../util/duration.js';
import { columnField, columnsField, connField, tableField } from './fields.js';

/** `t.sync(id, config)`: a table or query on one connection into a table on another (or the same). */
export interface SyncConfig {
  /** What to read: a table, or a query (SQL text, no parameters). */
  from: { conn: string; table: string; query?: never } | { conn: string; query: string; table?: never };
  /** The table written. `create: true` creates it, from the source's columns, when it is missing. */
  to: { conn: string; table: string; create?: boolean };
  /** Columns to copy (default: all of the source's). */
  columns?: string[];
  /**
   * Key columns of the target. Required with `incremental`: rows are upserted on them
   * (the target needs a primary key or unique index on exactly these columns).
   */
  key?: string[];
  /**
   * Without it the sync is `full`: the target is replaced in one transaction (readers
   * never see it half-loaded). With it, only rows whose `column` is above the last
   * high-water mark are read and upserted on `key`; the mark is kept in Updraft's
   * database and advanced only after the target committed.
   */
  incremental?: {
    column: string;
    /** Re-read rows this far below the mark, to catch late rows (a duration, for timestamp columns). */
    lookback?: Duration;
  };
  /** With `incremental`: delete target rows whose key no longer exists in the source. */
  deletes?: boolean;
}

/** A sync task's result (its XCom). */
export interface SyncResult {
  mode: 'full' | 'incremental';
  rowsRead: number;
  rowsWritten: number;
  /** Rows deleted from the target (delete detection). */
  rowsDeleted: number;
  /** The high-water mark after this sync (incremental). */
  watermark?: string | number | null;
  created: boolean;
  seconds: number;
}

const source = z.union(
  [
    z.strictObject({ conn: connField, table: tableField }),
    z.strictObject({ conn: connField, query: z.string().trim().min(1, { message: 'is empty' }) }),
  ],
  { message: 'expected { conn, table } or { conn, query }' },
);

export const syncSchema = z
  .strictObject({
    from: source,
    to: z.strictObject({ conn: connField, table: tableField, create: z.boolean().optional() }),
    columns: columnsField.optional(),
    key: columnsField.optional(),
    incremental: z
      .strictObject({
        column: columnField,
        // Kept as written; the runner reads it with durationMs().
        lookback: z
          .union([z.number(), z.string()])
          .refine((v) => durationMs(v) !== undefined, { message: `invalid duration (${DURATION_HINT})` })
          .optional(),
      })
      .optional(),
    deletes: z.boolean().optional(),
  })
  .superRefine((c, ctx) => {
    if (c.incremental && !c.key)
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message: 'required with incremental: rows are upserted on the key',
      });
    if (c.deletes && !c.incremental)
      ctx.addIssue({
        code: 'custom',
        path: ['deletes'],
        message: 'only with incremental (a full sync replaces the whole table anyway)',
      });
    if (c.columns && c.key)
      for (const k of c.key)
        if (!c.columns.includes(k))
          ctx.addIssue({ code: 'custom', path: ['key'], message: `key column '${k}' is not in columns` });
    if (c.columns && c.incremental && !c.columns.includes(c.incremental.column)) {
      ctx.addIssue({
        code: 'custom',
        path: ['incremental', 'column'],
        message: `'${c.incremental.column}' is not in columns`,
      });
    }
  }) as unknown as z.ZodType<SyncConfig>;
