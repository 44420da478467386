/** A DAG's own state: paused or not (who changed it is audited). */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { notify } from '../db/notify.js';
import { auditLog, dags } from '../db/schema.js';
import { NotFoundError } from '../errors.js';

/** Pauses or unpauses a DAG and records who did it. False when it already was. */
export async function setPaused(db: Db, dagId: string, paused: boolean, actor: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ id: dags.id, isPaused: dags.isPaused })
      .from(dags)
      .where(eq(dags.dagId, dagId))
      .for('update');
    if (!row) throw new NotFoundError(`no DAG with id '${dagId}' (see 'updraft dags list')`);
    if (row.isPaused === paused) return false;
    await tx.update(dags).set({ isPaused: paused }).where(eq(dags.id, row.id));
    await tx.insert(auditLog).values({ actor, action: paused ? 'dag.pause' : 'dag.unpause', dagId });
    // Schedulers act on an unpause at once instead of at their next poll.
    await notify(tx, 'dags', dagId);
    return true;
  });
}
