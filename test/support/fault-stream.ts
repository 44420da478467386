/**
 * A steady stream of runs of a fan-out DAG with short tasks, so that claims, completions
 * and run starts happen all the time and a fault always strikes something in progress
 * (test/postgres/faults-freeze.test.ts, faults-network.test.ts).
 */
import type { Db } from '../../src/db/client.js';
import { prelude, trigger } from './fault-cluster.js';

/** Tasks per run of streamDag: eight parallel tasks and one after them. */
export const STREAM_TASKS = 9;

/** Eight tasks of 20-50 ms fanning in to `last`; `retries` (default 1, soon) for tries whose worker is lost. */
export const streamDag =
  (dagId: string, retries = 1) =>
  () =>
    `${prelude(null, '20 + Math.floor(Math.random() * 30)')}
export default dag({ id: '${dagId}', schedule: null, maxActiveRuns: 1000, maxActiveTasks: 1000, defaults: { retries: ${retries}, retryDelay: '200ms' } }, (t) => {
  const fan = Array.from({ length: 8 }, (_, i) => t.task('t' + i, work));
  t.task('last', work).after(fan);
});
`;

export interface Stream {
  /** When the first run was triggered (epoch ms). */
  startedAt: number;
  /** Stops triggering; resolves with how many runs were triggered and when the last one was. */
  stop(): Promise<{ runs: number; endedAt: number }>;
}

/** Triggers a run of `dagId` every `everyMs` until stopped. */
export function startStream(db: Db, dagId: string, everyMs = 250): Stream {
  let runs = 0;
  let stopping = false;
  const startedAt = Date.now();
  // Ends at the first error, kept for stop(): a test that failed before stopping its stream
  // leaves no rejection unhandled.
  const loop = (async () => {
    while (!stopping) {
      await trigger(db, dagId, 1, runs);
      runs++;
      // The pace of the stream, not a wait for an event.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + runs * everyMs - Date.now())));
    }
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  return {
    startedAt,
    async stop() {
      stopping = true;
      const error = await loop;
      if (error) throw error;
      return { runs, endedAt: Date.now() };
    },
  };
}
