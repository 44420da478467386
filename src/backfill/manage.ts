/** A person pauses, resumes or cancels a backfill (audited). */
import { eq, sql } from 'drizzle-orm';
import { endQueuedBackfillRuns } from '../state/backfill-runs.js';
import { cancelRun } from '../state/mark.js';
import type { Db } from '../db/client.js';
import { execute, type Tx } from '../db/execute.js';
import { notify } from '../db/notify.js';
import { auditLog, backfills } from '../db/schema.js';
import { UpdraftError } from '../errors.js';
import { describeBackfill, getBackfill, type BackfillInfo, type BackfillState } from './read.js';

export type BackfillAction = 'pause' | 'resume' | 'cancel';

const ALLOWED: Record<BackfillAction, readonly BackfillState[]> = {
  pause: ['running'],
  resume: ['paused'],
  cancel: ['running', 'paused'],
};
const TARGET: Record<BackfillAction, BackfillState> = { pause: 'paused', resume: 'running', cancel: 'cancelled' };
const DONE: Record<BackfillAction, string> = { pause: 'paused', resume: 'resumed', cancel: 'cancelled' };

/** What a person may do to a backfill in `state`. */
export function actionsFor(state: BackfillState): BackfillAction[] {
  return (Object.keys(ALLOWED) as BackfillAction[]).filter((action) => ALLOWED[action].includes(state));
}

/**
 * Pause: no new date starts and its queued runs wait; runs already running finish.
 * Resume: it goes on where it stopped.
 */
export async function pauseBackfill(db: Db, id: number, actor: string): Promise<BackfillInfo> {
  return setState(db, id, 'pause', actor);
}

export async function resumeBackfill(db: Db, id: number, actor: string): Promise<BackfillInfo> {
  return setState(db, id, 'resume', actor);
}

/**
 * Cancel: no new date starts, and its unfinished runs are cancelled as `runs cancel` does
 * (running tasks are stopped, the runs fail). Dates it had not reached stay without a run.
 */
export async function cancelBackfill(db: Db, id: number, actor: string): Promise<BackfillInfo> {
  // Its queued runs end with the state change: a cancel cut short leaves none of them queued.
  const backfill = await setState(db, id, 'cancel', actor, (tx) => endQueuedBackfillRuns(tx, id));
  // Its running runs, one by one as `runs cancel` does: their running tries are stopped.
  const { rows } = await execute<{ run_id: string }>(
    db,
    sql`select run_id from dag_runs where backfill_id = ${id} and state = 'running' order by logical_date`,
  );
  for (const { run_id } of rows) {
    await cancelRun(db, backfill.dagId, run_id, { actor }).catch((error: unknown) => {
      // It ended on its own meanwhile.
      if (!(error instanceof UpdraftError)) throw error;
    });
  }
  return backfill;
}

async function setState(
  db: Db,
  id: number,
  action: BackfillAction,
  actor: string,
  alongside?: (tx: Tx) => Promise<void>,
): Promise<BackfillInfo> {
  const before = await getBackfill(db, id);
  return db.transaction(async (tx) => {
    const { rows } = await execute<{ state: BackfillState }>(
      tx,
      sql`select state from backfills where id = ${id} for update`,
    );
    const state = rows[0]!.state;
    if (!ALLOWED[action].includes(state)) {
      throw new UpdraftError(
        `backfill ${id} of DAG '${before.dagId}' is ${state}: only a ${ALLOWED[action].join(' or ')} backfill can be ${DONE[action]}`,
      );
    }
    const target = TARGET[action];
    const [row] = await tx
      .update(backfills)
      .set({ state: target, completedAt: target === 'cancelled' ? sql`now()` : null })
      .where(eq(backfills.id, id))
      .returning();
    await alongside?.(tx);
    await tx
      .insert(auditLog)
      .values({ actor, action: `backfill.${action}`, dagId: before.dagId, details: { backfillId: id } });
    // Schedulers pick a resumed backfill up at once; live pages and attached CLIs hear of it.
    await notify(tx, 'runs', before.dagId);
    return describeBackfill(row!, before.dagId);
  });
}
