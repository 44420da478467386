/**
 * Every `updraft` command works while `standalone` holds the embedded database: it goes
 * through the socket standalone serves in UPDRAFT_HOME, as it would to PostgreSQL. A second
 * server process is refused; once standalone is killed, commands open the files again.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedSocket } from '../../src/db/socket/index.js';
import { CLI_TEST_TIMEOUT, freePort, table, useCli } from '../support/cli.js';
import { startUpdraft, stopAll, type UpdraftProcess } from '../support/process.js';

const HELLO = `import { dag } from 'updraft';
export default dag({ id: 'hello', schedule: null }, (t) => {
  t.task('greet', async (ctx) => {
    ctx.log.info('hello from greet');
    return 'hi';
  });
});
`;

// Slow polls: only the trigger's NOTIFY, passed through the socket, wakes standalone's scheduler in time.
const { updraft, setup } = useCli(
  { 'hello.ts': HELLO },
  {
    UPDRAFT_SCHEDULER_POLL_INTERVAL: '60s',
    UPDRAFT_DAGS_POLL_INTERVAL: '60s',
    UPDRAFT_SECRET_KEY: 'test-secret-key-0123456789',
  },
);

let standalone: UpdraftProcess;
let api: string;

beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}/api/v1`;
  standalone = startUpdraft(['standalone', '--port', String(port)], setup().env);
  await standalone.ready;
}, CLI_TEST_TIMEOUT);

afterAll(async () => {
  await stopAll();
});

describe('updraft commands beside standalone on the embedded database', () => {
  it('create a user and an API token that standalone’s API accepts', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const user = await updraft(['users', 'create', 'olga', '--role', 'operator']);
    expect(user).toMatchObject({ code: 0 });
    expect(user.stdout).toContain("user 'olga' created with the operator role");
    const token = await updraft(['tokens', 'create', 'olga', '--name', 'ci']);
    expect(token).toMatchObject({ code: 0 });

    const unpause = (headers: Record<string, string>) =>
      fetch(`${api}/dags/hello`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ is_paused: false }),
      });
    expect((await unpause({})).status).toBe(401);
    const res = await unpause({ Authorization: `Bearer ${token.stdout.trim()}` });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ dag_id: 'hello', is_paused: false });
  });

  // Four commands: each may take 20 s on a loaded 2-core machine.
  it('list DAGs, trigger a run that standalone starts at once, list runs and show the task log', {
    timeout: 2 * CLI_TEST_TIMEOUT,
  }, async () => {
    const dags = await updraft(['dags', 'list']);
    expect(dags).toMatchObject({ code: 0 });
    expect(table(dags.stdout)[1]).toEqual(expect.arrayContaining(['hello', 'no']));

    const finished = standalone.waitFor(/"msg":"run \S+ of hello success"/);
    const trigger = await updraft(['dags', 'trigger', 'hello', '--json']);
    expect(trigger).toMatchObject({ code: 0 });
    const { runId, logicalDate } = JSON.parse(trigger.stdout) as { runId: string; logicalDate: string };
    await finished;

    const runs = await updraft(['runs', 'list', 'hello']);
    expect(runs).toMatchObject({ code: 0 });
    expect(table(runs.stdout)[1]?.slice(0, 3)).toEqual([runId, 'manual', 'success']);
    // Started well before the 60 s poll: the trigger's NOTIFY, passed on by the socket, woke standalone's scheduler.
    const [run] = JSON.parse((await updraft(['runs', 'list', 'hello', '--json'])).stdout) as { startedAt: string }[];
    expect(Date.parse(run!.startedAt) - Date.parse(logicalDate)).toBeLessThan(20_000);

    const logs = await updraft(['tasks', 'logs', 'hello', runId, 'greet']);
    expect(logs).toMatchObject({ code: 0 });
    expect(logs.stdout).toContain('hello from greet');
  });

  it('add and list connections', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const added = await updraft(['connections', 'add', 'warehouse', 'postgres://etl:s3cret@db.example:5432/dw']);
    expect(added).toMatchObject({ code: 0 });
    const list = await updraft(['connections', 'list']);
    expect(list).toMatchObject({ code: 0 });
    expect(list.stdout).toContain('warehouse');
    expect(list.stdout).not.toContain('s3cret');
  });

  it('refuse a second server process, saying why', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const second = startUpdraft(['standalone', '--port', String(await freePort())], setup().env);
    const scheduler = startUpdraft(['scheduler'], setup().env);
    for (const refused of [second, scheduler]) {
      expect(await refused.exited).toEqual({ code: 1, signal: null });
      expect(refused.output()).toContain(
        'is in use by another Updraft process. It has one server process (standalone, scheduler, web or worker)',
      );
    }
    // The first one still serves.
    expect((await updraft(['users', 'list'])).stdout).toContain('olga');
  });

  it('open the files again once standalone was killed, its socket left behind', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    await standalone.kill();
    const socket = embeddedSocket(setup().env.UPDRAFT_HOME!)!.file;
    expect(existsSync(socket)).toBe(true);
    const users = await updraft(['users', 'list']);
    expect(users).toMatchObject({ code: 0 });
    expect(users.stdout).toContain('olga');
    expect(existsSync(socket)).toBe(false);
  });
});
