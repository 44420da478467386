/**
 * Statements as the sql, report and sensor operators run them: the function form called
 * with the task's context and what it returned checked. How DAG files write them (the
 * types and config fields) is in dag/operators/statement.ts.
 */
import type { TaskContext } from '../dag/types.js';
import { type Statement, statementInput } from '../dag/operators/statement.js';
import { OperatorError } from './types.js';

/**
 * The statements to run now: calls the function form with the task's context and checks
 * what it returned. What it returned being wrong is a mistake in the DAG file: no retry.
 */
export async function resolveStatements(
  spec: unknown,
  ctx: TaskContext,
  operator: string,
  field: string,
): Promise<Statement[]> {
  const value = typeof spec === 'function' ? await (spec as (c: TaskContext) => unknown)(ctx) : spec;
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
