/**
 * Rows from one connection to another: the source's `COPY ... TO STDOUT` piped into the
 * target's `COPY ... FROM STDIN`, in text format (the target parses each value with its
 * own column type, so int4 -> int8 or varchar -> text just work), the server's Buffers
 * passed through untouched. No JS work per row except a native newline search.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { syncError } from './errors.js';

/** One end of a copy: a client, its COPY statement, and the config field a failure there is blamed on. */
export interface CopyEnd {
  client: pg.PoolClient;
  sql: string;
  field: string;
}

export interface Progress {
  rows: number;
  bytes: number;
  seconds: number;
}

/** The first progress line comes after this many rows, to show the copy is moving; then one every PROGRESS_MS. */
const FIRST_PROGRESS_ROWS = 100_000;
const PROGRESS_MS = 5_000;

/**
 * Passes chunks through and counts rows: a text-format row ends with '\n' (a newline in
 * a value is escaped as \n). Buffer.indexOf costs about 15 ms per million rows.
 */
class RowCounter extends Transform {
  private rows = 0;
  private bytes = 0;
  private readonly started = performance.now();
  private lastReport = this.started;
  private reported = false;

  constructor(private readonly onProgress: (progress: Progress) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rows = this.rows;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
    this.rows = rows;
    this.bytes += chunk.length;
    const now = performance.now();
    if (now - this.lastReport >= PROGRESS_MS || (!this.reported && rows >= FIRST_PROGRESS_ROWS)) {
      this.reported = true;
      this.lastReport = now;
      this.onProgress({ rows, bytes: this.bytes, seconds: (now - this.started) / 1000 });
    }
    callback(null, chunk);
  }
}

/**
 * Copies what `source.sql` (COPY ... TO STDOUT) produces into `target.sql` (COPY ... FROM
 * STDIN). An error on either side, or an abort, destroys both streams: the target's COPY
 * fails (CopyFail), so its transaction can only roll back. A failure is blamed on the
 * field of the side that failed first.
 */
export async function copyRows(
  source: CopyEnd,
  target: CopyEnd,
  signal: AbortSignal,
  onProgress: (progress: Progress) => void,
): Promise<{ rowsRead: number; rowsWritten: number }> {
  signal.throwIfAborted();
  const out = source.client.query(copyTo(source.sql));
  const into = target.client.query(copyFrom(target.sql));
  // These listeners also absorb errors that arrive after the pipeline has settled
  // (the answer to a CopyFail or to a cancelled query), which would otherwise be uncaught.
  let sourceError: unknown;
  let targetError: unknown;
  out.on('error', (error) => {
    sourceError ??= error;
  });
  into.on('error', (error) => {
    targetError ??= error;
  });
  try {
    await pipeline(out, new RowCounter(onProgress), into, { signal });
  } catch (error) {
    if (signal.aborted) throw error;
    throw error === targetError ? syncError(target.field, error) : syncError(source.field, sourceError ?? error);
  }
  return { rowsRead: out.rowCount, rowsWritten: into.rowCount };
}
