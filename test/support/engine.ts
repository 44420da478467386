/**
 * A real Engine in the test process (processor, scheduler and executor roles) on this
 * file's database and a temporary DAGs folder, and ways to wait for what it does
 * through its bus events, never through sleeps:
 *
 *   const setup = useEngine({ 'my.ts': SOURCE }); // beforeAll/afterAll of this file or describe
 *   it('...', async () => {
 *     const { h } = setup();
 *     const run = await h.run('my_dag');         // trigger, then await 'run:finished'
 *     expect(run.tasks.extract).toMatchObject({ state: 'success', tryNumber: 1 });
 *   });
 *
 * or, by hand: `const h = await startEngine(database, folder.path)`, then `await h.stop()`.
 */
import type { EventEmitter } from 'node:events';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { dagRuns, taskInstances, taskLogs, xcom } from '../../src/db/schema.js';
import { Engine } from '../../src/engine/engine.js';
import type { EngineEvents } from '../../src/state/bus.js';
import { triggerRun } from '../../src/scheduler/runs.js';
import type { TaskState } from '../../src/state/vocabulary.js';
import { makeDagFolder, type DagFolder } from './dag-folder.js';
import { testDatabase } from './db.js';

/** How long a run may take before its test fails with the states it got stuck in. */
const RUN_TIMEOUT_MS = 20_000;

export interface TaskRow {
  state: TaskState | null;
  tryNumber: number;
  startedAt: Date | null;
  endedAt: Date | null;
  error: string | null;
  /** The task's XCom (its return value); undefined when it stored none. */
  result: unknown;
}

export interface FinishedRun {
  /** dag_runs.id */
  id: string;
  runId: string;
  state: 'success' | 'failed';
  tasks: Record<string, TaskRow>;
}

export interface TriggerOptions {
  conf?: Record<string, unknown>;
  logicalDate?: Date;
}

export interface TestEngine {
  engine: Engine;
  /** Everything the engine reported as an 'error' on its bus: a healthy test leaves it empty. */
  errors: Error[];
  /** Queues a manual run; `finished` resolves when the engine reports its end. */
  trigger(dagId: string, options?: TriggerOptions): Promise<{ id: string; finished: Promise<FinishedRun> }>;
  /** Triggers a run and waits for its end. */
  run(dagId: string, options?: TriggerOptions): Promise<FinishedRun>;
  /**
   * The next bus event `name` that `match` accepts. Call it before the action that causes
   * the event; it fails after `timeoutMs`.
   */
  next<K extends 'task:state' | 'task:refused'>(
    name: K,
    match: (event: EngineEvents[K][0]) => boolean,
    timeoutMs?: number,
  ): Promise<EngineEvents[K][0]>;
  stop(): Promise<void>;
}

/** The engine's config for a test: this folder, unpaused DAGs, 2 task threads, a 500 ms safety-net poll. */
export function engineConfig(dagsFolder: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    ...process.env,
    UPDRAFT_DAGS_FOLDER: dagsFolder,
    UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false',
    UPDRAFT_CONCURRENCY: '2',
    UPDRAFT_SCHEDULER_POLL_INTERVAL: '500ms',
    UPDRAFT_SHUTDOWN_GRACE: '1s',
    ...env,
  });
}

/** Starts an engine with every role; DAG files written to the folder before this are loaded by the time it resolves. */
export async function startEngine(
  database: Database,
  dagsFolder: string,
  env: Record<string, string> = {},
): Promise<TestEngine> {
  const engine = new Engine(
    database,
    engineConfig(dagsFolder, env),
    { processor: true, scheduler: true, executor: true },
    pino({ level: 'silent' }),
  );
  const errors: Error[] = [];
  // Every run's end is kept from the start, so that a run ending before its waiter exists is not missed.
  const ended = new Map<string, 'success' | 'failed'>();
  const waiters = new Map<string, () => void>();
  engine.bus.on('error', (error) => errors.push(error));
  engine.bus.on('run:finished', ({ runRowId, state }) => {
    ended.set(runRowId, state);
    waiters.get(runRowId)?.();
  });

  const awaitRun = async (id: string): Promise<FinishedRun> => {
    if (!ended.has(id)) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          waiters.set(id, resolve);
          timer = setTimeout(() => {
            void taskStates(database, id).then(
              (tasks) =>
                reject(
                  new Error(
                    `run ${id} did not finish within ${RUN_TIMEOUT_MS} ms; its tasks: ${JSON.stringify(tasks)}; engine errors: ${errors.map((e) => e.message).join('; ') || 'none'}`,
                  ),
                ),
              reject,
            );
          }, RUN_TIMEOUT_MS);
        });
      } finally {
        clearTimeout(timer);
        waiters.delete(id);
      }
    }
    const [run] = await database.db
      .select({ runId: dagRuns.runId, state: dagRuns.state })
      .from(dagRuns)
      .where(eq(dagRuns.id, id));
    // The event and the row must agree: the event is sent after the commit that ended the run.
    if (run!.state !== ended.get(id))
      throw new Error(`run ${id} ended ${ended.get(id)} by its event but is ${run!.state} in the database`);
    return { id, runId: run!.runId, state: ended.get(id)!, tasks: await taskStates(database, id) };
  };

  const harness: TestEngine = {
    engine,
    errors,
    async trigger(dagId, options = {}) {
      const run = await triggerRun(database.db, dagId, { ...options, actor: 'test' });
      const finished = awaitRun(run.id);
      // A test that never awaits `finished` (it failed earlier) must not leave an unhandled rejection.
      finished.catch(() => {});
      return { id: run.id, finished };
    },
    async run(dagId, options) {
      return (await harness.trigger(dagId, options)).finished;
    },
    next(name, match, timeoutMs = RUN_TIMEOUT_MS) {
      // The bus's typed overloads do not follow a generic event name; the listener is typed by `match`.
      const bus = engine.bus as unknown as EventEmitter;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          bus.off(name, listener);
          reject(new Error(`no matching '${name}' event within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (event: Parameters<typeof match>[0]) => {
          if (!match(event)) return;
          clearTimeout(timer);
          bus.off(name, listener);
          resolve(event);
        };
        bus.on(name, listener);
      });
    },
    stop: () => engine.stop(),
  };
  try {
    await engine.start();
  } catch (error) {
    await engine.stop().catch(() => {});
    throw error;
  }
  return harness;
}

export interface EngineSetup {
  database: Database;
  folder: DagFolder;
  h: TestEngine;
}

export interface UseEngineOptions {
  /** Settings over engineConfig's, e.g. { UPDRAFT_CONCURRENCY: '1' }. */
  env?: Record<string, string>;
  /** Runs once the files are written, before the engine starts: rows the DAGs need, e.g. a pool. */
  prepare?: (database: Database) => Promise<void>;
}

/**
 * Registers beforeAll/afterAll hooks in the calling scope (the file or a describe): a fresh
 * database (testDatabase) and DAGs folder holding `files` (name: source), and an engine on
 * them; afterwards the engine is stopped and the folder removed. Call the returned accessor
 * inside a test or hook, once the setup ran.
 */
export function useEngine(files: Record<string, string>, options: UseEngineOptions = {}): () => EngineSetup {
  let setup: EngineSetup | undefined;
  let folder: DagFolder | undefined;
  let h: TestEngine | undefined;
  beforeAll(async () => {
    const database = await testDatabase();
    folder = await makeDagFolder(files);
    await options.prepare?.(database);
    h = await startEngine(database, folder.path, options.env);
    setup = { database, folder, h };
  });
  afterAll(async () => {
    await h?.stop();
    await folder?.cleanup();
  });
  return () => {
    if (!setup)
      throw new Error(
        'useEngine: the engine is not set up (call the accessor in a test or hook, after its beforeAll ran)',
      );
    return setup;
  };
}

/** The run's task instances by task id, with their XComs. */
/** The state the run `runRowId` ends with, as the bus reports it: call before the action that ends it. */
export function nextEnd(h: TestEngine, id: string): Promise<'success' | 'failed'> {
  return new Promise((resolve) => {
    const listener = (run: { runRowId: string; state: 'success' | 'failed' }) => {
      if (run.runRowId !== id) return;
      h.engine.bus.off('run:finished', listener);
      resolve(run.state);
    };
    h.engine.bus.on('run:finished', listener);
  });
}

export async function taskStates(database: Database, runRowId: string): Promise<Record<string, TaskRow>> {
  const rows = await database.db
    .select({
      id: taskInstances.id,
      taskId: taskInstances.taskId,
      state: taskInstances.state,
      tryNumber: taskInstances.tryNumber,
      startedAt: taskInstances.startedAt,
      endedAt: taskInstances.endedAt,
      error: taskInstances.error,
    })
    .from(taskInstances)
    .where(eq(taskInstances.runId, runRowId));
  const values =
    rows.length === 0
      ? []
      : await database.db
          .select({ id: xcom.taskInstanceId, value: xcom.value })
          .from(xcom)
          .where(
            inArray(
              xcom.taskInstanceId,
              rows.map((r) => r.id),
            ),
          );
  const byId = new Map(values.map((v) => [v.id, v.value]));
  return Object.fromEntries(rows.map(({ id, taskId, ...row }) => [taskId, { ...row, result: byId.get(id) }]));
}

export interface StoredLogLine {
  tryNumber: number;
  at: Date;
  level: string;
  message: string;
}

/** The stored log of one task instance of a run, every try, in order. */
export async function taskLog(database: Database, runRowId: string, taskId: string): Promise<StoredLogLine[]> {
  return database.db
    .select({ tryNumber: taskLogs.tryNumber, at: taskLogs.at, level: taskLogs.level, message: taskLogs.message })
    .from(taskLogs)
    .innerJoin(taskInstances, eq(taskInstances.id, taskLogs.taskInstanceId))
    .where(and(eq(taskInstances.runId, runRowId), eq(taskInstances.taskId, taskId)))
    .orderBy(asc(taskLogs.id));
}
