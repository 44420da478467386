import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskPool, type LogMessage, type RunOptions } from '../../src/executor/pool.js';
import type { Question, TaskOutcome, TaskPayload } from '../../src/executor/protocol.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { taskPayload } from '../support/task-payload.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/executor/tasks.ts', import.meta.url));

let pool: TaskPool;
let folder: DagFolder;

beforeAll(async () => {
  pool = new TaskPool({ size: 2, abortGraceMs: 200 });
  folder = await makeDagFolder();
});

afterAll(async () => {
  await pool?.close();
  await folder?.cleanup();
});

function payload(taskId: string, overrides: Partial<Omit<TaskPayload, 'port'>> = {}): Omit<TaskPayload, 'port'> {
  return taskPayload({ file: FIXTURE, dagId: 'executor_fixture', taskId, ...overrides });
}

async function run(
  taskId: string,
  overrides: Partial<Omit<TaskPayload, 'port'>> = {},
  options: Partial<RunOptions> = {},
) {
  const logs: LogMessage[] = [];
  const outcome = await pool.run(payload(taskId, overrides), {
    timeoutMs: null,
    onLog: (m) => logs.push(m),
    ...options,
  });
  return { outcome, logs: logs.map((l) => `${l.level}: ${l.message}`) };
}

function failure(outcome: TaskOutcome) {
  expect(outcome.status).toBe('failed');
  return outcome as Extract<TaskOutcome, { status: 'failed' }>;
}

const ORDERS = [
  { id: 1, amount: 9.5 },
  { id: 2, amount: 0.5 },
];

describe('TaskPool', () => {
  it('runs a task and returns its result', async () => {
    const { outcome } = await run('extract');
    expect(outcome).toEqual({ status: 'success', result: ORDERS });
    expect(pool.size).toBe(2);
    expect(pool.running).toBe(0);
  });

  it('gives the task its context', async () => {
    const { outcome } = await run('context', {
      tryNumber: 2,
      maxTries: 3,
      params: { region: 'eu' },
      conf: { region: 'eu', extra: true },
    });
    expect(outcome).toEqual({
      status: 'success',
      result: {
        dagId: 'executor_fixture',
        taskId: 'context',
        runId: 'manual__2026-01-01',
        logicalDate: '2026-01-01T00:00:00.000Z',
        interval: ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'],
        tryNumber: 2,
        maxTries: 3,
        params: { region: 'eu' },
        conf: { region: 'eu', extra: true },
        aborted: false,
      },
    });
  });

  it('answers a pull from the upstream results it was given', async () => {
    const pulls: string[] = [];
    const { outcome } = await run(
      'total',
      { upstreamResults: { extract: ORDERS } },
      { onAsk: async (q) => pulls.push(q.kind === 'pull' ? q.taskId : q.kind) },
    );
    expect(outcome).toEqual({ status: 'success', result: { orders: 2, revenue: 10 } });
    expect(pulls).toEqual([]);
  });

  it('asks the main thread for a result it was not given', async () => {
    const pulls: string[] = [];
    const onAsk = async (question: Question) => {
      pulls.push(question.kind === 'pull' ? question.taskId : question.kind);
      return ORDERS;
    };
    const { outcome } = await run('total', {}, { onAsk });
    expect(outcome).toEqual({ status: 'success', result: { orders: 2, revenue: 10 } });
    expect(pulls).toEqual(['extract']);
  });

  it('fails the task when the main thread cannot answer a pull', async () => {
    const onAsk = async () => {
      throw new Error("no XCom for 'extract' in run manual__2026-01-01");
    };
    const { outcome } = await run('total', {}, { onAsk });
    expect(failure(outcome)).toMatchObject({
      error: "no XCom for 'extract' in run manual__2026-01-01",
      retryable: true,
    });
  });

  it('delivers ctx.log and console output in order, all before the outcome', async () => {
    const { outcome, logs } = await run('chatty');
    expect(outcome).toEqual({ status: 'success', result: 'ok' });
    expect(logs).toEqual([
      'info: pulled 3 orders',
      'info: console.log { a: 1 }',
      'debug: debug line',
      'warn: a warning',
      'error: printed, not thrown',
      'info: info and 42',
      'debug: console.debug',
      'error: last line',
    ]);
  });

  it('ends a task that throws SkipTask as skipped', async () => {
    expect((await run('skip')).outcome).toEqual({ status: 'skipped', reason: 'nothing to do' });
  });

  it('fails a task that throws FailTask without retries', async () => {
    expect(failure((await run('fail')).outcome)).toMatchObject({ error: 'bad input', retryable: false });
  });

  it('fails a task that throws an error, retryable, with its message and stack', async () => {
    const outcome = failure((await run('boom')).outcome);
    expect(outcome).toMatchObject({ error: 'boom', retryable: true });
    expect(outcome.stack).toMatch(/^Error: boom\n\s+at explode \(/);
    // The stack points into the DAG file by its path (no ?v= query), without the executor's frames.
    expect(outcome.stack).toContain(`${FIXTURE}:`);
    expect(outcome.stack).not.toMatch(/\?v=|src\/executor\/|node_modules\/piscina/);
  });

  it.each([
    ['function', 'the result.format is a function'],
    ['bigint', 'the result.count is a bigint (10n); return it as a string or a number'],
    ['map', 'the result.byId is a Map; use a plain object or an array of [key, value] pairs'],
    ['date', 'the result[0].when is a Date; return date.toISOString()'],
    ['nan', 'the result.ratio is NaN (JSON has no NaN or Infinity)'],
    ['cycle', 'the result.self refers back to an enclosing value (a cycle)'],
  ])('fails a task whose result cannot be stored as JSON (%s)', async (kind, problem) => {
    const outcome = failure((await run('bad_result', { conf: { kind } })).outcome);
    expect(outcome.error).toBe(`the result of task 'bad_result' cannot be stored as JSON: ${problem}`);
  });

  it('stores no XCom for a task that returns nothing', async () => {
    const { outcome } = await run('nothing');
    expect(outcome).toEqual({ status: 'success', result: undefined });
  });

  it('terminates a busy loop after its timeout, and the pool keeps working', async () => {
    const { outcome } = await run('busy', {}, { timeoutMs: 500 });
    expect(outcome).toEqual({ status: 'failed', error: 'timed out after 500ms', retryable: true });
    // The killed thread is replaced.
    const again = await Promise.all([run('extract'), run('extract')]);
    expect(again.map((r) => r.outcome.status)).toEqual(['success', 'success']);
  });

  it('aborts ctx.signal on timeout, so a cooperative task ends by itself', async () => {
    const { outcome, logs } = await run('cooperative', {}, { timeoutMs: 100 });
    expect(outcome).toEqual({ status: 'failed', error: 'timed out after 100ms', retryable: true });
    expect(logs).toEqual(['info: waiting for the signal', 'info: aborted: timed out after 100ms']);
  });

  it('cancels a running try through its signal', async () => {
    const cancel = new AbortController();
    const onLog = (message: LogMessage) => {
      if (message.message === 'waiting for the signal') cancel.abort('the run was marked failed');
    };
    const outcome = await pool.run(payload('cooperative'), { timeoutMs: null, signal: cancel.signal, onLog });
    expect(outcome).toEqual({ status: 'failed', error: 'cancelled: the run was marked failed', retryable: true });
  });

  it('fails a try whose thread dies', async () => {
    const outcome = failure((await run('exits')).outcome);
    expect(outcome.error).toMatch(/^the task thread died: /);
    expect(outcome.retryable).toBe(true);
  });

  it('re-imports a changed file under a new version', async () => {
    const file = await folder.write('versioned.ts', versioned(1));
    expect((await run('answer', { file, dagId: 'versioned', fileVersion: 'a' })).outcome).toEqual({
      status: 'success',
      result: 1,
    });
    await folder.write('versioned.ts', versioned(2));
    expect((await run('answer', { file, dagId: 'versioned', fileVersion: 'b' })).outcome).toEqual({
      status: 'success',
      result: 2,
    });
  });

  it('fails clearly when the task, the DAG or the operator is not runnable', async () => {
    expect(failure((await run('gone')).outcome)).toEqual({
      status: 'failed',
      error: `the DAG 'executor_fixture' (${FIXTURE}) has no task 'gone' any more`,
      retryable: false,
    });
    expect(failure((await run('extract', { dagId: 'renamed' })).outcome)).toEqual({
      status: 'failed',
      error: `the DAG file ${FIXTURE} no longer defines the DAG 'renamed'`,
      retryable: false,
    });
    expect(failure((await run('query')).outcome).error).toBe(
      "task 'query' uses the operator 'spreadsheet', which this version of Updraft does not have",
    );
  });

  it('fails a try whose DAG file cannot be imported', async () => {
    const file = await folder.write('broken.ts', 'export default {;\n');
    const outcome = failure((await run('a', { file, dagId: 'broken' })).outcome);
    expect(outcome.error).toMatch(new RegExp(`^cannot import the DAG file ${file}: `));
    expect(outcome.retryable).toBe(true);
  });
});

function versioned(answer: number): string {
  return `import { dag } from 'updraft';
export default dag({ id: 'versioned' }, (t) => {
  t.task('answer', async () => ${answer});
});
`;
}
