/** The operators a task thread can run, by the name stored with each task. */
import { cleanseOperator } from './cleanse/run.js';
import { reportOperator } from './report/run.js';
import { sqlOperator } from './sql/run.js';
import { syncOperator } from './sync/run.js';
import type { Operator } from './types.js';

const OPERATORS = new Map<string, Operator<unknown>>([
  [sqlOperator.name, sqlOperator],
  [cleanseOperator.name, cleanseOperator],
  [reportOperator.name, reportOperator],
  [syncOperator.name, syncOperator],
]);

export function operatorNamed(name: string): Operator<unknown> | undefined {
  return OPERATORS.get(name);
}
