import { expect } from 'vitest';
import { DagDefinitionError } from '../../src/index.js';

/** The DagDefinitionError `fn` throws (a DAG file's mistake); fails the test if it throws nothing or something else. */
export function definitionError(fn: () => unknown): DagDefinitionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DagDefinitionError);
    return error as DagDefinitionError;
  }
  throw new Error('expected a DagDefinitionError');
}
