/**
 * Operators in real task threads: a thread asks the main thread for a connection's URL,
 * keeps a pool for it across tries, and leaves no session behind once the TaskPool closed.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TaskPool } from '../../src/executor/pool.js';
import type { Question, TaskPayload } from '../../src/executor/protocol.js';
import { makeDagFolder } from '../support/dag-folder.js';
import { useScratchDatabases } from '../support/operators.js';

const DAG = `import { dag } from 'updraft';
export default dag({ id: 'pooled' }, (t) => {
  t.sql('backend', { conn: 'wh', sql: "select pg_backend_pid() as pid, current_setting('application_name') as app" });
});
`;

const dbs = useScratchDatabases(['wh']);
const folder = await makeDagFolder({ 'pooled.ts': DAG });
afterAll(() => folder.cleanup());

function payload(tryNumber: number): Omit<TaskPayload, 'port'> {
  return {
    file: path.join(folder.path, 'pooled.ts'),
    fileVersion: 'v1',
    dagId: 'pooled',
    taskId: 'backend',
    runId: 'manual__2026-01-01',
    taskInstanceId: String(tryNumber),
    logicalDate: '2026-01-01T00:00:00.000Z',
    intervalStart: '2026-01-01T00:00:00.000Z',
    intervalEnd: '2026-01-01T00:00:00.000Z',
    tryNumber,
    maxTries: 2,
    params: {},
    conf: {},
    upstreamResults: {},
  };
}

const updraftSessions = async () =>
  (
    await dbs.query<{ n: number }>(
      'wh',
      "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'updraft'",
    )
  )[0]!.n;

describe('connections in task threads', () => {
  it('reuses the thread pool across tries, and leaves no session once the TaskPool closed', async () => {
    const pool = new TaskPool({ size: 1 });
    const questions: Question[] = [];
    const onAsk = async (question: Question) => {
      questions.push(question);
      if (question.kind === 'connection' && question.name === 'wh') return dbs.url('wh');
      throw new Error(`unexpected question ${JSON.stringify(question)}`);
    };
    const first = await pool.run(payload(1), { timeoutMs: null, onAsk });
    const second = await pool.run(payload(2), { timeoutMs: null, onAsk });
    const pid = (o: typeof first) =>
      o.status === 'success' ? (o.result as { rows: { pid: number; app: string }[] }).rows[0] : undefined;
    expect(pid(first)).toMatchObject({ app: 'updraft' });
    // Same thread, same pool, same idle session.
    expect(pid(second)!.pid).toBe(pid(first)!.pid);
    expect(questions).toEqual([
      { kind: 'connection', name: 'wh' },
      { kind: 'connection', name: 'wh' },
    ]);
    expect(await updraftSessions()).toBe(1);

    await pool.close();
    // The session ends when the server has processed the thread's goodbye (its pool's end, or the thread's exit).
    const deadline = Date.now() + 5_000;
    while ((await updraftSessions()) > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await updraftSessions()).toBe(0);
  });
});
