/** What the UI and the CLI show of a DAG's event trigger: the trigger, its watermark, recent events. */
import { and, desc, eq } from 'drizzle-orm';
import { getDag } from '../catalog/dags.js';
import type { Db } from '../db/client.js';
import { dagRuns, eventKeys, eventWatermarks } from '../db/schema.js';
import type { SerializedDag } from '../dag/serialize.js';
import { describeEvents } from '../dag/events.js';

/** "on NOTIFY app_db/new_orders", or null for a DAG without an event trigger. */
export function triggerOf(serialized: SerializedDag): string | null {
  return serialized.events ? describeEvents(serialized.events) : null;
}

export interface EventHistory {
  dagId: string;
  trigger: string | null;
  /** Watermark form: the last value that started a run (PostgreSQL's text of it). */
  watermark: string | null;
  /** Recent dedupe keys, newest first, with the run each started (null: a rejected conf, or the run was deleted). */
  keys: { key: string; runId: string | null; at: Date }[];
  /** Recent event runs, newest first. */
  runs: { runId: string; state: string; logicalDate: Date; conf: unknown }[];
}

export async function eventHistory(db: Db, dagId: string, limit = 20): Promise<EventHistory> {
  const { dag, serialized } = await getDag(db, dagId);
  const [mark] = await db
    .select({ value: eventWatermarks.value })
    .from(eventWatermarks)
    .where(eq(eventWatermarks.dagId, dag.id));
  const keys = await db
    .select({ key: eventKeys.key, runId: dagRuns.runId, at: eventKeys.createdAt })
    .from(eventKeys)
    .leftJoin(dagRuns, eq(dagRuns.id, eventKeys.runId))
    .where(eq(eventKeys.dagId, dag.id))
    .orderBy(desc(eventKeys.createdAt), desc(eventKeys.key))
    .limit(limit);
  const runs = await db
    .select({ runId: dagRuns.runId, state: dagRuns.state, logicalDate: dagRuns.logicalDate, conf: dagRuns.conf })
    .from(dagRuns)
    .where(and(eq(dagRuns.dagId, dag.id), eq(dagRuns.runType, 'event')))
    .orderBy(desc(dagRuns.logicalDate))
    .limit(limit);
  return {
    dagId,
    trigger: triggerOf(serialized),
    watermark: mark?.value ?? null,
    keys,
    runs,
  };
}
