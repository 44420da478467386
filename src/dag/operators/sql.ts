import { z } from 'zod';
import { connField } from './fields.js';
import { statementsField, type StatementsSpec } from './statement.js';

/** Rows kept in a sql task's result unless `maxRows` says otherwise. */
export const DEFAULT_MAX_ROWS = 100;

/** `t.sql(id, config)`: statements on a named connection. */
export interface SqlConfig {
  /** The connection to run on. */
  conn: string;
  /** SQL text with $1.. placeholders, { text, values }, a list of them, or a function of the task's context returning them. */
  sql: StatementsSpec;
  /** Run every statement in one transaction (default true); false runs each on its own (e.g. VACUUM, CREATE INDEX CONCURRENTLY). */
  transaction?: boolean;
  /** Rows of the last statement kept in the result (default 100, at most 10,000). */
  maxRows?: number;
}

/** A sql task's result (its XCom). `rows` are the last statement's first `maxRows` rows. */
export interface SqlResult<Row = Record<string, unknown>> {
  /** The last statement's command tag ('INSERT', 'SELECT', ...) and row count. */
  command: string;
  rowCount: number;
  rows: Row[];
  /** The last statement returned more rows than were kept. */
  truncated: boolean;
  /** Every statement's command and row count, in order. */
  statements: { command: string; rowCount: number }[];
}

export const sqlSchema = z.strictObject({
  conn: connField,
  sql: statementsField,
  transaction: z.boolean().optional(),
  maxRows: z.number().int().min(0).max(10_000).optional(),
}) as unknown as z.ZodType<SqlConfig>;
