import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { dagRuns, dags, dagVersions, importErrors, type DagRow, type ImportErrorRow } from '../db/schema.js';
import type { SerializedDag } from '../dag/serialize.js';
import { NotFoundError } from '../errors.js';
import { nextDagRunInfo, type DagRunInfo, type DataInterval, type ScheduleSpec } from '../schedule/index.js';

export interface DagSummary {
  dag: DagRow;
  serialized: SerializedDag;
  /** The next scheduled run (it may already be due), or null for manual-only or finished schedules. */
  nextRun: DagRunInfo | null;
}

export function scheduleSpecOf(serialized: SerializedDag): ScheduleSpec {
  return {
    schedule: serialized.schedule,
    timezone: serialized.timezone,
    startDate: serialized.startDate ? new Date(serialized.startDate) : null,
    endDate: serialized.endDate ? new Date(serialized.endDate) : null,
    catchup: serialized.catchup,
  };
}

/**
 * The data interval of the latest scheduled or backfill run: where the schedule goes on
 * from (Airflow's last automated run), so that the scheduler never tries to create a
 * run a backfill already made.
 */
export async function lastScheduledInterval(db: Db, dagRowId: string): Promise<DataInterval | null> {
  const [row] = await db
    .select({ start: dagRuns.intervalStart, end: dagRuns.intervalEnd })
    .from(dagRuns)
    .where(and(eq(dagRuns.dagId, dagRowId), inArray(dagRuns.runType, ['scheduled', 'backfill'])))
    .orderBy(desc(dagRuns.logicalDate))
    .limit(1);
  return row ?? null;
}

/** Active DAGs with their latest version and next run, ordered by id. */
export async function listDags(db: Db, now: Date): Promise<DagSummary[]> {
  const rows = await db
    .select({ dag: dags, serialized: dagVersions.serialized })
    .from(dags)
    .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
    .where(eq(dags.isActive, true))
    .orderBy(asc(dags.dagId));
  return Promise.all(
    rows.map(async ({ dag, serialized }) => {
      const s = serialized as SerializedDag;
      return {
        dag,
        serialized: s,
        nextRun: nextDagRunInfo(scheduleSpecOf(s), await lastScheduledInterval(db, dag.id), now),
      };
    }),
  );
}

/** The row id and timezone of a DAG by its id (active or not); undefined when there is none. */
export async function findDagRow(db: Db, dagId: string): Promise<{ id: string; timezone: string } | undefined> {
  const [row] = await db.select({ id: dags.id, timezone: dags.timezone }).from(dags).where(eq(dags.dagId, dagId));
  return row;
}

/** One DAG by its id, active or not; NotFoundError names the id. */
export async function getDag(db: Db, dagId: string): Promise<{ dag: DagRow; serialized: SerializedDag }> {
  const [row] = await db
    .select({ dag: dags, serialized: dagVersions.serialized })
    .from(dags)
    .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
    .where(eq(dags.dagId, dagId));
  if (!row) throw new NotFoundError(`no DAG with id '${dagId}' (see 'updraft dags list')`);
  return { dag: row.dag, serialized: row.serialized as SerializedDag };
}

export async function listImportErrors(db: Db): Promise<ImportErrorRow[]> {
  return db.select().from(importErrors).orderBy(asc(importErrors.file));
}
