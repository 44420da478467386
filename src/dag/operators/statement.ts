/**
 * Statements as DAG files write them, for the sql and report operators: SQL text with
 * $1, $2 placeholders and the values to bind to them. Values from the run (interval,
 * logical date, params, upstream results) come through a function of the task's
 * context, so they are always bound as parameters and never spliced into the text:
 *
 *   sql: ({ interval }) => ({ text: 'delete from t where day >= $1 and day < $2', values: [interval.start, interval.end] })
 *
 * The config fields are here, in the DAG model; operators/statement.ts resolves them in the task thread.
 */
import { z } from 'zod';
import type { TaskContext } from '../types.js';

export interface Statement {
  text: string;
  values?: readonly unknown[];
}
export type StatementInput = string | Statement;
/** Static statements, or a function of the task's context that returns them (it may pull upstream results). */
export type StatementsSpec<S = StatementInput | readonly StatementInput[]> =
  | S
  // biome-ignore lint/suspicious/noExplicitAny: the function is written for its own DAG's params, unknown here; any keeps ctx.params usable in it
  | ((ctx: TaskContext<any>) => S | Promise<S>);

const statementObject = z.strictObject({
  text: z.string().trim().min(1, { message: 'is empty' }),
  values: z.array(z.unknown()).optional(),
});
/** One statement: SQL text or { text, values } (what a statements function must return too). */
export const statementInput = z.union([z.string().trim().min(1, { message: 'is empty' }), statementObject]);
export const fnField = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', {
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
