import type { Db } from '../db/client.js';
import { describeDatabaseError, pgErrorCode } from '../db/errors.js';
import type { ClaimedTask, ClaimRequest } from '../state/tries.js';
import type { EngineBus } from '../state/bus.js';
import type { DagCache, DagStructure } from '../state/dag-cache.js';
import { completeTries, type CompletionReport, type TaskResult } from '../state/complete-tries.js';
import { CallbackRunner, type CommittedTry, type EndedRun } from './callbacks.js';
import type { ClaimLoop } from './claim-loop.js';
import type { Held } from './in-flight.js';
import { asStoredJson } from '../util/json-result.js';
import type { LogFlush } from './log-flush.js';
import type { Lifecycle } from './mode.js';
import type { Writes } from './writes.js';

export interface GroupCommitParts {
  claims: ClaimLoop;
  writes: Writes;
  logs: LogFlush;
  callbacks: CallbackRunner;
  lifecycle: Lifecycle;
  /**
   * Queues tries a commit claimed for the threads (the executor's dispatch), with the
   * results it just committed, by '<run row id> <task id>' (inputs.ts, upstreamResults).
   */
  dispatch: (claimed: ClaimedTask[], sentAt: number, known: ReadonlyMap<string, unknown>) => Promise<void>;
  /** Looks for work again (the executor's wake). */
  wake: () => void;
  /** Nothing is held any more (a stop waits for it). */
  idle: () => void;
}

/**
 * Group commit: one transaction for everything that finished meanwhile. Whatever finished
 * while the previous commit ran goes into the next one, so a busy pool commits many
 * results per transaction and an idle one commits each at once. The same transaction
 * claims what the results made ready (completeTries), for the slots they free.
 */
export class GroupCommit {
  #pending: TaskResult[] = [];
  #committing: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly cache: DagCache,
    private readonly bus: EngineBus,
    private readonly held: Held,
    private readonly parts: GroupCommitParts,
  ) {}

  /** The commit under way, if any. */
  get committing(): Promise<void> | undefined {
    return this.#committing;
  }

  /** Queues a try's result for the next commit, and starts one unless one is under way. */
  add(result: TaskResult): void {
    this.#pending.push(result);
    void this.commit();
  }

  private async commit(): Promise<void> {
    if (this.#committing) return;
    const run = async () => {
      await this.parts.logs.flushing;
      while (this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = [];
        try {
          await this.finish(batch);
        } catch (error) {
          this.bus.emit('error', error as Error);
          if (isRefusedData(error)) {
            await this.finishOneByOne(batch);
            continue;
          }
          this.#pending = [...batch, ...this.#pending];
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
    };
    this.#committing = run().finally(() => {
      this.#committing = undefined;
      // A result that arrived after the loop's last look must not wait for the next one.
      if (this.#pending.length > 0) void this.commit();
      else if (this.held.tries.size === 0) this.parts.idle();
    });
    await this.#committing;
  }

  /** Commits a batch of results and acts on what that changed. */
  private async finish(batch: TaskResult[]): Promise<void> {
    const { claims } = this.parts;
    // Room once this batch leaves: the same transaction claims what it makes ready.
    const room = this.parts.lifecycle.draining ? 0 : claims.capacity + batch.length;
    const request = claims.request(room);
    await claims.claiming(request, (sentAt) => this.finishBatch(batch, request, sentAt));
  }

  private async finishBatch(batch: TaskResult[], request: ClaimRequest, sentAt: number): Promise<void> {
    const { writes } = this.parts;
    const report = await writes.serially(() =>
      completeTries(this.db, this.cache, batch, request, { announceState: false }),
    );
    if (report.changes.length > 0) writes.announceState();
    const callbacks = this.callbacksOf(batch, report);
    for (const r of batch) this.held.tries.delete(r.lease);
    if (report.claimed.length > 0) {
      const refused = new Set(report.refused.map((r) => r.taskInstanceId));
      const known = new Map(
        batch
          .filter((r) => r.state === 'success' && !refused.has(r.taskInstanceId))
          .map((r) => [`${r.runRowId} ${r.taskId}`, asStoredJson(r.result)]),
      );
      await this.parts.dispatch(report.claimed, sentAt, known);
    }
    // After the downstream tries were handed to the pool: they go first.
    if (callbacks) this.parts.callbacks.afterCommit(callbacks.tries, callbacks.runs);
    for (const c of report.changes) this.bus.emit('task:state', c);
    for (const r of report.refused)
      this.bus.emit('task:refused', { runRowId: r.runRowId, taskId: r.taskId, tryNumber: r.tryNumber });
    for (const f of report.finishedRuns) this.bus.emit('run:finished', f);
    if (report.finishedRuns.length > 0) this.bus.emit('runs');
    // Freed slots and maybe more work: look again, unless the transaction's claim already
    // found less than it asked for (nothing else is ready; new work wakes us by NOTIFY).
    if (report.claimBusy) this.parts.claims.soon();
    else if (report.claimAsked === 0 || report.claimed.length >= report.claimAsked) this.parts.wake();
  }

  /**
   * The callbacks a commit calls for: accepted tries whose task has a callback for its new
   * state, and ended runs whose DAG has one. Undefined (the usual case) when there are none:
   * a look at the stored list of callbacks, no statement.
   */
  private callbacksOf(
    batch: readonly TaskResult[],
    report: CompletionReport,
  ): { tries: CommittedTry[]; runs: EndedRun[] } | undefined {
    // By result, not task instance: a zombie's refused try and the accepted new one may share a batch.
    const refused = new Set(report.refused);
    const tries: CommittedTry[] = [];
    const byRun = new Map<string, DagStructure>();
    for (const result of batch) {
      const entry = this.held.tries.get(result.lease);
      if (!entry) continue;
      if (report.finishedRuns.length > 0) byRun.set(result.runRowId, entry.code);
      // A try's callback is the one of the code the try ran.
      const committed = { result, claim: entry.claim, structure: entry.code };
      if (!refused.has(result) && CallbackRunner.eventFor(committed)) tries.push(committed);
    }
    const runs = report.finishedRuns.flatMap((f) => {
      const structure = byRun.get(f.runRowId);
      return structure?.serialized.runCallbacks ? [{ runRowId: f.runRowId, state: f.state, structure }] : [];
    });
    return tries.length > 0 || runs.length > 0 ? { tries, runs } : undefined;
  }

  /**
   * After the database refused a batch's data (a value too large, a constraint): each
   * result alone, so one bad result cannot hold back the others; one that is refused
   * again ends its try as failed, without the XCom or effects the database would not take.
   */
  private async finishOneByOne(batch: TaskResult[]): Promise<void> {
    for (const result of batch) {
      try {
        await this.finish([result]);
      } catch (error) {
        if (!isRefusedData(error)) {
          this.#pending.push(result);
          continue;
        }
        const why = `the try's result could not be stored: ${describeDatabaseError(error) ?? (error as Error).message}`;
        const failed: TaskResult = {
          ...result,
          state: 'failed',
          error: why,
          result: undefined,
          effects: undefined,
          nextTryAt: undefined,
        };
        failed.logs = [...result.logs, { level: 'error', message: why, at: Date.now() }];
        await this.finish([failed]).catch((again: unknown) => {
          this.bus.emit('error', again as Error);
          this.#pending.push(result);
        });
      }
    }
  }
}

/**
 * The database refused the data itself (SQLSTATE class 22 data exception, 23 integrity
 * violation, 54 limit exceeded): sending the same results again will not help, unlike a
 * lost connection or a restart, which a later attempt survives.
 */
function isRefusedData(error: unknown): boolean {
  const code = pgErrorCode(error);
  return code !== undefined && /^(22|23|54)/.test(code);
}
