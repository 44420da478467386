/**
 * One run from one event or a batch of events, in one transaction of the Updraft
 * database: the events' dedupe keys, the run, and the watermark advance commit
 * together. An event whose key is already stored starts nothing; an event seen again
 * after a crash (a queue row consumed but not yet deleted) is such an event.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { dagRuns, dags, dagVersions, eventKeys, eventWatermarks } from '../db/schema.js';
import { resolveConf } from '../dag/params.js';
import type { SerializedDag } from '../dag/serialize.js';
import { scheduleSpecOf } from '../catalog/dags.js';
import { manualRunInfo } from '../schedule/index.js';
import { runValues } from '../state/new-run.js';
import { notify } from '../db/notify.js';

export interface SourceEvent {
  /** The event's own conf: a NOTIFY's JSON object payload, `{ payload }` for other text, a row's JSON. */
  conf: Record<string, unknown>;
  /** Dedupe key; null: the event is never a duplicate. */
  key: string | null;
}

export type EventRunOutcome =
  | { kind: 'started'; id: string; runId: string; events: number; duplicates: number }
  /** Every event was a duplicate (or there were none). */
  | { kind: 'duplicate'; duplicates: number }
  /** The conf does not match the DAG's params: the events are recorded as consumed, no run. */
  | { kind: 'rejected'; message: string; events: number }
  /** The DAG is paused or gone: nothing was written, the caller keeps its events (queue rows stay queued). */
  | { kind: 'inactive'; reason: string };

export interface EventRunOptions {
  /** true: the conf is `{ events: [...] }` even for one event (a debounced or batched source). */
  batch: boolean;
  /** Advance the DAG's watermark in the same transaction. */
  watermark?: { source: string; value: string | null };
  now?: Date;
}

/** Two event runs in the same millisecond: the later one moves on by a millisecond, at most this often. */
const MAX_DATE_BUMPS = 50;

export async function startEventRun(
  db: Db,
  dagId: string,
  events: SourceEvent[],
  options: EventRunOptions,
): Promise<EventRunOutcome> {
  return db.transaction(async (tx) => {
    const [dag] = await tx
      .select({
        id: dags.id,
        versionId: dags.latestVersionId,
        isPaused: dags.isPaused,
        isActive: dags.isActive,
        serialized: dagVersions.serialized,
      })
      .from(dags)
      .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
      .where(eq(dags.dagId, dagId));
    if (!dag?.isActive) return { kind: 'inactive', reason: 'the DAG is no longer defined' };
    if (dag.isPaused) return { kind: 'inactive', reason: 'the DAG is paused' };

    const keys = [...new Set(events.flatMap((e) => (e.key === null ? [] : [e.key])))];
    const fresh = new Set(
      keys.length === 0
        ? []
        : (
            await tx
              .insert(eventKeys)
              .values(keys.map((key) => ({ dagId: dag.id, key })))
              .onConflictDoNothing()
              .returning({ key: eventKeys.key })
          ).map((r) => r.key),
    );
    // A key twice in one batch counts once.
    const taken = new Set<string>();
    const kept = events.filter((e) => {
      if (e.key === null) return true;
      if (!fresh.has(e.key) || taken.has(e.key)) return false;
      taken.add(e.key);
      return true;
    });
    if (options.watermark) {
      const { source, value } = options.watermark;
      await tx
        .insert(eventWatermarks)
        .values({ dagId: dag.id, source, value })
        .onConflictDoUpdate({ target: eventWatermarks.dagId, set: { source, value } });
    }
    const duplicates = events.length - kept.length;
    if (kept.length === 0) return { kind: 'duplicate', duplicates };

    const serialized = dag.serialized as SerializedDag;
    const conf = options.batch || kept.length > 1 ? { events: kept.map((e) => e.conf) } : kept[0]!.conf;
    try {
      resolveConf(serialized.params, conf, dagId, 'the event conf');
    } catch (error) {
      // The keys stay stored: the same events would be refused again, and again.
      return { kind: 'rejected', message: (error as Error).message, events: kept.length };
    }

    let at = options.now ?? new Date();
    for (let bump = 0; bump <= MAX_DATE_BUMPS; bump++) {
      const values = runValues(dag.id, dag.versionId!, 'event', manualRunInfo(scheduleSpecOf(serialized), at), conf);
      // on conflict: another run has this logical date (a burst of events in one millisecond).
      const [run] = await tx
        .insert(dagRuns)
        .values(values)
        .onConflictDoNothing()
        .returning({ id: dagRuns.id, runId: dagRuns.runId });
      if (run) {
        const ownKeys = kept.flatMap((e) => (e.key === null ? [] : [e.key]));
        if (ownKeys.length > 0)
          await tx
            .update(eventKeys)
            .set({ runId: run.id })
            .where(and(eq(eventKeys.dagId, dag.id), inArray(eventKeys.key, ownKeys)));
        await notify(tx, 'runs', dagId);
        return { kind: 'started', id: run.id, runId: run.runId, events: kept.length, duplicates };
      }
      at = new Date(at.getTime() + 1);
    }
    throw new Error(`DAG '${dagId}': no free logical date for an event run near ${at.toISOString()}`);
  });
}
