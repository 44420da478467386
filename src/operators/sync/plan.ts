/** What the two kinds of sync work with, once the source and the target have been looked up. */
import type pg from 'pg';
import type { Column, Source, Target } from './columns.js';
import type { SyncConfig } from '../../dag/operators/sync.js';
import type { Progress } from './copy.js';

export interface Plan {
  config: SyncConfig;
  /** In a REPEATABLE READ, read-only transaction: every read of the sync sees one snapshot. */
  source: pg.PoolClient;
  /** In the transaction that the sync commits at the end. */
  target: pg.PoolClient;
  from: Source;
  /** The columns copied, with the source's types. */
  columns: Column[];
  /** The target's columns (for a table just created: the copied ones). */
  to: Target;
  /** The target was created by this sync (so it is empty). */
  created: boolean;
  signal: AbortSignal;
  /** A progress reporter for one copy: `what` says what is copied ('rows', 'keys'). */
  progress(what: string): (progress: Progress) => void;
  log(message: string): void;
}

export interface Counts {
  rowsRead: number;
  rowsWritten: number;
  rowsDeleted: number;
}
