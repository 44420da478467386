/** The operators a task thread can run, by the name stored with each task. */
import { sqlOperator } from './sql/run.js';
import type { Operator } from './types.js';

const OPERATORS = new Map<string, Operator<any>>([[sqlOperator.name, sqlOperator]]);

export function operatorNamed(name: string): Operator<unknown> | undefined {
  return OPERATORS.get(name);
}
