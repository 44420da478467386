import { and, eq, inArray } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { dagRuns, dags, taskInstances } from '../db/schema.js';
import { getDag, scheduleSpecOf } from '../catalog/dags.js';
import { missingDagError } from '../catalog/missing-dag.js';
import { resolveConf } from '../dag/params.js';
import { NotFoundError, UpdraftError } from '../errors.js';
import type { Logger } from '../log.js';
import { DagProcessor } from '../processor/processor.js';
import { manualRunInfo, parseDateInZone } from '../schedule/index.js';
import { DagCache } from '../state/dag-cache.js';
import { makeRunId } from '../state/new-run.js';
import { createTaskInstances } from '../state/start-runs.js';
import type { TaskState } from '../state/vocabulary.js';
import { Engine } from './engine.js';
import type { EngineEvents } from '../state/bus.js';

/** The run's own queue: on a shared database no other process's workers take its tasks. */
const testQueue = (runRowId: string) => `dags-test:${runRowId}`;

export interface TestRunReport {
  dagId: string;
  runId: string;
  state: 'success' | 'failed';
  tasks: { taskId: string; state: TaskState | null; tries: number; durationMs: number | null }[];
}

/**
 * `updraft dags test`: parses the DAGs folder, creates one manual run of the DAG (a
 * finished run for the same logical date is replaced, as Airflow does) and runs it in
 * this process until it ends, whether the DAG is paused or not. A logical date given as
 * text is read in the DAG's timezone unless it ends in Z or an offset. State is written as
 * for any run, so the run shows in `runs list` and its logs in `tasks logs`.
 */
export async function testRun(
  database: Database,
  config: Config,
  dagId: string,
  options: {
    logicalDate?: Date | string;
    conf?: Record<string, unknown>;
    log: Logger;
    onTaskState?: (event: EngineEvents['task:state'][0]) => void;
  },
): Promise<TestRunReport> {
  const { db } = database;
  await new DagProcessor(db, config).refresh();
  const { dag, serialized } = await getDag(db, dagId).catch(async (error: unknown) => {
    throw error instanceof NotFoundError ? await missingDagError(db, dagId) : error;
  });
  const conf = options.conf ?? {};
  resolveConf(serialized.params, conf, dagId, '--conf');
  // Text is read in the DAG's timezone unless it has an offset (DATE_INPUT_RULE).
  const logicalDate =
    options.logicalDate === undefined ? new Date() : parseDateInZone(options.logicalDate, serialized.timezone);
  const info = manualRunInfo(scheduleSpecOf(serialized), logicalDate);
  const structure = await new DagCache(db).get(dag.latestVersionId!);

  let scheduled: string[] = [];
  const runRowId = await db.transaction(async (tx) => {
    const [existing] = await tx
      .select({ id: dagRuns.id, state: dagRuns.state })
      .from(dagRuns)
      .where(and(eq(dagRuns.dagId, dag.id), eq(dagRuns.logicalDate, info.logicalDate)));
    if (existing && (existing.state === 'queued' || existing.state === 'running')) {
      throw new UpdraftError(
        `DAG '${dagId}' already has an active run for ${info.logicalDate.toISOString()}; wait for it or pick another date`,
      );
    }
    if (existing) await tx.delete(dagRuns).where(eq(dagRuns.id, existing.id));
    const [run] = await tx
      .insert(dagRuns)
      .values({
        dagId: dag.id,
        dagVersionId: dag.latestVersionId,
        runId: makeRunId('manual', info.logicalDate),
        runType: 'manual',
        state: 'running',
        logicalDate: info.logicalDate,
        intervalStart: info.interval.start,
        intervalEnd: info.interval.end,
        runAfter: info.runAfter,
        conf,
        queuedAt: new Date(),
        startedAt: new Date(),
      })
      .returning({ id: dagRuns.id });
    scheduled = await createTaskInstances(tx, run!.id, structure, new Date(), testQueue(run!.id));
    return run!.id;
  });

  const testEngine = new Engine(
    database,
    { ...config, queues: [testQueue(runRowId)] },
    { processor: false, scheduler: true, executor: true },
    options.log,
    {
      onlyRun: runRowId,
    },
  );
  if (options.onTaskState)
    testEngine.bus.on('task:state', (event) => event.runRowId === runRowId && options.onTaskState!(event));
  const finished = new Promise<'success' | 'failed'>((resolve) =>
    testEngine.bus.on('run:finished', (run) => run.runRowId === runRowId && resolve(run.state)),
  );
  // The roots and the always tasks (a mapped root once, whatever its instances).
  for (const taskId of new Set(scheduled)) options.onTaskState?.({ runRowId, taskId, state: 'scheduled' });
  await testEngine.start();
  let state: 'success' | 'failed';
  try {
    state = await finished;
  } finally {
    await testEngine.stop();
  }

  const rows = await db
    .select({
      taskId: taskInstances.taskId,
      state: taskInstances.state,
      tries: taskInstances.tryNumber,
      startedAt: taskInstances.startedAt,
      endedAt: taskInstances.endedAt,
    })
    .from(taskInstances)
    .where(inArray(taskInstances.runId, [runRowId]));
  const order = [...structure.tasks.keys()];
  rows.sort((a, b) => order.indexOf(a.taskId) - order.indexOf(b.taskId));
  const [run] = await db
    .select({ runId: dagRuns.runId })
    .from(dagRuns)
    .innerJoin(dags, eq(dags.id, dagRuns.dagId))
    .where(eq(dagRuns.id, runRowId));
  return {
    dagId,
    runId: run!.runId,
    state,
    tasks: rows.map((r) => ({
      taskId: r.taskId,
      state: r.state,
      tries: r.tries,
      durationMs: r.startedAt && r.endedAt ? r.endedAt.getTime() - r.startedAt.getTime() : null,
    })),
  };
}
