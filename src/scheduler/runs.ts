import { and, count, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import { lastScheduledInterval, scheduleSpecOf } from '../catalog/dags.js';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import { auditLog, dagRuns, dags, dagVersions } from '../db/schema.js';
import { resolveConf } from '../dag/params.js';
import type { SerializedDag } from '../dag/serialize.js';
import { NotFoundError, UpdraftError } from '../errors.js';
import { dueRuns, manualRunInfo, nextDagRunInfo } from '../schedule/index.js';
import { notify } from '../db/notify.js';
import { runValues } from '../state/new-run.js';

// A DAG's own unfinished runs: a backfill's count against the backfill's limit, not the DAG's.
const ACTIVE_RUN = and(inArray(dagRuns.state, ['queued', 'running']), isNull(dagRuns.backfillId));

export interface CreatedRuns {
  created: number;
  /** When the next scheduled run becomes due, to wake the scheduler then; null if none is known. */
  nextDueAt: Date | null;
}

/**
 * Creates the scheduled runs that are due at `now` for every active, unpaused DAG,
 * as many as its maxActiveRuns leaves room for. The unique (dag, logical date)
 * index makes this safe to run from any number of schedulers at once.
 */
export async function createDueRuns(db: Db, now: Date): Promise<CreatedRuns> {
  const rows = await db
    .select({
      dagRowId: dags.id,
      maxActiveRuns: dags.maxActiveRuns,
      versionId: dags.latestVersionId,
      serialized: dagVersions.serialized,
    })
    .from(dags)
    .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
    .where(and(eq(dags.isActive, true), eq(dags.isPaused, false), isNotNull(dags.schedule)));
  let created = 0;
  let nextDueAt: Date | null = null;
  for (const row of rows) {
    const spec = scheduleSpecOf(row.serialized as SerializedDag);
    const [{ active }] = (await db
      .select({ active: count() })
      .from(dagRuns)
      .where(and(eq(dagRuns.dagId, row.dagRowId), ACTIVE_RUN))) as [{ active: number }];
    const room = row.maxActiveRuns - active;
    const last = await lastScheduledInterval(db, row.dagRowId);
    const due = room > 0 ? dueRuns(spec, last, now, room) : [];
    if (due.length > 0) {
      const inserted = await db
        .insert(dagRuns)
        .values(due.map((run) => runValues(row.dagRowId, row.versionId!, 'scheduled', run, {})))
        .onConflictDoNothing()
        .returning({ id: dagRuns.id });
      created += inserted.length;
    }
    // With room left, the next wake-up is when the next interval ends; without, a run ending wakes us.
    if (room > due.length) {
      const next = nextDagRunInfo(spec, due.at(-1)?.interval ?? last, now);
      if (next && (nextDueAt === null || next.runAfter < nextDueAt)) nextDueAt = next.runAfter;
    }
  }
  // New queued runs: a hint for live pages (updraft_state), not for schedulers (this one starts them next).
  if (created > 0) await notify(db, 'state');
  return { created, nextDueAt };
}

export interface TriggerOptions {
  conf?: Record<string, unknown>;
  /** Default: now. */
  logicalDate?: Date;
  actor: string;
  now?: Date;
}

export interface TriggeredRun {
  id: string;
  runId: string;
  logicalDate: Date;
}

/**
 * A manual run, queued: its conf is checked against the DAG's params, its interval
 * is the last complete schedule interval before its logical date (docs/scheduling.md),
 * and the trigger lands in the audit log.
 */
export async function triggerRun(db: Db, dagId: string, options: TriggerOptions): Promise<TriggeredRun> {
  const [row] = await db
    .select({
      dagRowId: dags.id,
      versionId: dags.latestVersionId,
      serialized: dagVersions.serialized,
      isActive: dags.isActive,
    })
    .from(dags)
    .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
    .where(eq(dags.dagId, dagId));
  if (!row) throw new NotFoundError(`no DAG with id '${dagId}' (see 'updraft dags list')`);
  if (!row.isActive) throw new UpdraftError(`DAG '${dagId}' is no longer defined by any file in the DAGs folder`);
  const serialized = row.serialized as SerializedDag;
  const conf = options.conf ?? {};
  resolveConf(serialized.params, conf, dagId, 'conf');
  const info = manualRunInfo(scheduleSpecOf(serialized), options.logicalDate ?? options.now ?? new Date());
  const values = runValues(row.dagRowId, row.versionId!, 'manual', info, conf);
  try {
    return await db.transaction(async (tx) => {
      const [run] = await tx
        .insert(dagRuns)
        .values(values)
        .returning({ id: dagRuns.id, runId: dagRuns.runId, logicalDate: dagRuns.logicalDate });
      await tx
        .insert(auditLog)
        .values({ actor: options.actor, action: 'dag.trigger', dagId, runId: run!.runId, details: { conf } });
      await notify(tx, 'runs', dagId);
      return run!;
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new UpdraftError(`DAG '${dagId}' already has a run with logical date ${info.logicalDate.toISOString()}`, {
        cause: error,
      });
    }
    throw error;
  }
}
