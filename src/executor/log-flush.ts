import type { Db } from '../db/client.js';
import type { EngineBus } from '../state/bus.js';
import { insertLogs } from '../db/sql/insert-logs.js';
import type { Held } from './in-flight.js';

/**
 * Stores the log lines of tries still running, every second, so a long task's log can be
 * read while it runs. A try's last lines are stored by its commit (group-commit.ts).
 */
export class LogFlush {
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly bus: EngineBus,
    private readonly held: Held,
    /** A commit is under way: no flush beside it. */
    private readonly committing: () => boolean,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.flush(), 1_000);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The flush under way, if any: a commit waits for it. */
  get flushing(): Promise<void> | undefined {
    return this.#flushing;
  }

  /**
   * Never beside a commit: a commit waits for the flush in progress, so a try's last lines
   * (stored by its commit) always come after the lines flushed before them.
   */
  flush(): Promise<void> {
    if (this.committing()) return Promise.resolve();
    this.#flushing ??= this.insertRunningLogs().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  private async insertRunningLogs(): Promise<void> {
    const taken = [...this.held.tries.values()]
      .map((entry) => ({ entry, lines: entry.logs.splice(0) }))
      .filter((t) => t.lines.length > 0);
    if (taken.length === 0) return;
    const rows = taken.flatMap(({ entry, lines }) =>
      lines.map((l) => ({
        id: entry.claim.id,
        try_number: entry.claim.try_number,
        at: new Date(l.at),
        level: l.level,
        message: l.message,
      })),
    );
    try {
      await insertLogs(this.db, rows);
    } catch (error) {
      // Kept for the next flush or the try's completion, not lost.
      for (const { entry, lines } of taken) entry.logs.unshift(...lines);
      this.bus.emit('error', error as Error);
    }
  }
}
