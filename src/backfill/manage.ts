/** A person pauses, resumes or cancels a backfill (audited). */
import { eq, sql } from 'drizzle-orm';
import { cancelRun } from '../catalog/mark.js';
import type { Db } from '../db/client.js';
import { execute } from '../db/execute.js';
import { auditLog, backfills } from '../db/schema.js';
import { UpdraftError } from '../errors.js';
import { describeBackfill, getBackfill, type BackfillInfo, type BackfillState } from './read.js';

export type BackfillAction = 'pause' | 'resume' | 'cancel';
type Action = BackfillAction;

const ALLOWED: Record<Action, readonly BackfillState[]> = { pause: ['running'], resume: ['paused'], cancel: ['running', 'paused'] };

/** What a person may do to a backfill in `state`. */
export function actionsFor(state: BackfillState): BackfillAction[] {
  return (Object.keys(ALLOWED) as Action[]).filter((action) => ALLOWED[action].includes(state));
}
const TARGET: Record<Action, BackfillState> = { pause: 'paused', resume: 'running', cancel: 'cancelled' };

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
  const backfill = await setState(db, id, 'cancel', actor);
  // After the state change has committed, no scheduler starts another of its runs.
  const { rows } = await execute<{ run_id: string }>(db, sql`select run_id from dag_runs where backfill_id = ${id} and state in ('queued', 'running') order by logical_date`);
  for (const { run_id } of rows) {
    await cancelRun(db, backfill.dagId, run_id, { actor }).catch((error: unknown) => {
      // It ended on its own meanwhile.
      if (!(error instanceof UpdraftError)) throw error;
    });
  }
  return backfill;
}

async function setState(db: Db, id: number, action: Action, actor: string): Promise<BackfillInfo> {
  const before = await getBackfill(db, id);
  return db.transaction(async (tx) => {
    const { rows } = await execute<{ state: BackfillState }>(tx, sql`select state from backfills where id = ${id} for update`);
    const state = rows[0]!.state;
    if (!ALLOWED[action].includes(state)) {
      throw new UpdraftError(`backfill ${id} of DAG '${before.dagId}' is ${state}: only a ${ALLOWED[action].join(' or ')} backfill can be ${action === 'pause' ? 'paused' : action === 'resume' ? 'resumed' : 'cancelled'}`);
    }
    const target = TARGET[action];
    const [row] = await tx
      .update(backfills)
      .set({ state: target, completedAt: target === 'cancelled' ? sql`now()` : null })
      .where(eq(backfills.id, id))
      .returning();
    await tx.insert(auditLog).values({ actor, action: `backfill.${action}`, dagId: before.dagId, details: { backfillId: id } });
    // Schedulers pick a resumed backfill up at once; live pages and attached CLIs hear of it.
    await execute(tx, sql`select pg_notify('updraft_runs', ${before.dagId})`);
    return describeBackfill(row!, before.dagId);
  });
}
