/**
 * The operators' config schemas by name, for the DAG builder: checked when a DAG file
 * is parsed. (The runners, which need pg, are in operators/registry.ts and load only in task threads.)
 */
import type { z } from 'zod';
import { cleanseSchema } from './cleanse.js';
import { reportSchema } from './report.js';
import { sqlSchema } from './sql.js';
import { syncSchema } from './sync.js';

export const OPERATOR_SCHEMAS: Record<'sql' | 'sync' | 'cleanse' | 'report', z.ZodType<unknown>> = {
  sql: sqlSchema,
  sync: syncSchema,
  cleanse: cleanseSchema,
  report: reportSchema,
};

/** A config as stored in the database: plain JSON, functions shown as '[function]'. */
export function storableConfig(config: unknown): unknown {
  return JSON.parse(
    JSON.stringify(config, (_key, value: unknown) => (typeof value === 'function' ? '[function]' : value)),
  );
}
