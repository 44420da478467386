/**
 * What every operator (sql, sync, cleanse, report) is made of: a zod schema for its
 * config, checked when the DAG file is parsed, and a `run` that executes in a task
 * thread. Operators never see Updraft's own database: what they must keep (a sync's
 * watermark, a report) goes back with the try's outcome and is committed with it.
 */
import type pg from 'pg';
import type { z } from 'zod';
import type { TaskContext } from '../dag/types.js';
import { UpdraftError } from '../errors.js';

export interface Operator<Config> {
  /** The name used in DAG files (`t.sql(...)`) and stored as the task's operator. */
  readonly name: string;
  /** Checks a task's config when the DAG file is parsed; errors name the field. */
  readonly schema: z.ZodType<Config>;
  /** Runs one try; the return value (JSON) is the task's XCom. */
  run(config: Config, ctx: OperatorContext): Promise<unknown>;
}

/** A report as rendered by the report operator, stored per DAG / run / task. */
export interface ReportOutput {
  format: 'csv' | 'json' | 'markdown' | 'html';
  title: string;
  content: string;
  rows: number;
}

/** The task's context plus what operators need from the thread they run in. */
export interface OperatorContext {
  task: TaskContext;
  /**
   * The thread's pool for a named connection (UPDRAFT_CONN_<NAME> or stored with
   * `updraft connections add`). `field` names where the DAG file names it, for errors.
   */
  connection(name: string, field: string): Promise<pg.Pool>;
  /** Operator state kept in Updraft's database for this DAG and task (a watermark). */
  state: {
    get(key: string): Promise<unknown>;
    /** Committed with the try's success, never before; a failed try keeps the old value. */
    set(key: string, value: unknown): void;
  };
  /** Keeps a rendered report; stored with the try's success. */
  saveReport(report: ReportOutput): void;
}

/**
 * A task failure an operator explains: which operator, which field of its config and
 * what went wrong. `retryable` false for mistakes a retry cannot fix (a missing column).
 */
export class OperatorError extends UpdraftError {
  constructor(
    readonly operator: string,
    readonly field: string,
    cause: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(`${operator} ${field}: ${cause}`, options);
  }
}

/** What a successful operator run leaves to keep with its result, in the same transaction. */
export interface Effects {
  /** Operator state to keep, by key (a sync's new high-water mark). */
  state?: Record<string, unknown>;
  report?: ReportOutput;
}
