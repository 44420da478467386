/**
 * The operators' config schemas by name, for the DAG builder: checked when a DAG file
 * is parsed. (The runners, which need pg, are in registry.ts and load only in task threads.)
 */
import type { z } from 'zod';
import { cleanseSchema } from './cleanse/config.js';
import { reportSchema } from './report/config.js';
import { sqlSchema } from './sql/config.js';
import { syncSchema } from './sync/config.js';

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
