/**
 * Statements as DAG files write them, for the sql and report operators: SQL text with
 * $1, $2 placeholders and the values to bind to them. Values from the run (interval,
 * logical date, params, upstream results) come through a function of the task's
 * context, so they are always bound as parameters and never spliced into the text:
 *
 *   sql: ({ interval }) => ({ text: 'delete from t where day >= $1 and day < $2', values: [interval.start, interval.end] })
 */
import { z } from 'zod';
import type { TaskContext } from '../dag/types.js';
import { OperatorError } from './types.js';

export interface Statement {
  text: string;
  values?: readonly unknown[];
}
export type StatementInput = string | Statement;
/** Static statements, or a function of the task's context that returns them (it may pull upstream results). */
export type StatementsSpec<S = StatementInput | readonly StatementInput[]> =
  | S
  | ((ctx: TaskContext<any>) => S | Promise<S>);

const statementObject = z.strictObject({
  text: z.string().trim().min(1, { message: 'is empty' }),
  values: z.array(z.unknown()).optional(),
});
const statementInput = z.union([z.string().trim().min(1, { message: 'is empty' }), statementObject]);
export const fnField = z.custom<(...args: any[]) => unknown>((v) => typeof v === 'function', {
  message: 'expected a function',
});

/** One statement or a function returning one (report). */
export const oneStatementField = z.union([statementInput, fnField]);
/** One or more statements or a function returning them (sql). */
export const statementsField = z.union([
  statementInput,
  z.array(statementInput).min(1, { message: 'name at least one statement' }),
  fnField,
]);

/**
 * The statements to run now: calls the function form with the task's context and checks
 * what it returned. What it returned being wrong is a mistake in the DAG file: no retry.
 */
export async function resolveStatements(
  spec: unknown,
  ctx: TaskContext<any>,
  operator: string,
  field: string,
): Promise<Statement[]> {
  const value = typeof spec === 'function' ? await (spec as (c: TaskContext<any>) => unknown)(ctx) : spec;
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new OperatorError(operator, field, 'the function returned no statement');
  return list.map((item, i) => {
    const parsed = statementInput.safeParse(item);
    const where = list.length > 1 ? `${field}[${i}]` : field;
    if (!parsed.success)
      throw new OperatorError(operator, where, `expected SQL text or { text, values }, got ${describeValue(item)}`);
    return typeof parsed.data === 'string' ? { text: parsed.data } : parsed.data;
  });
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object')
    return Array.isArray(value) ? 'an array' : `an object with keys ${Object.keys(value).join(', ') || '(none)'}`;
  return typeof value;
}
