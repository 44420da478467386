/**
 * `updraft backfill` on the embedded database while `standalone` holds it: the command
 * goes through standalone's API (with the token standalone shares in UPDRAFT_HOME), and
 * standalone runs the backfill.
 */
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, freePort, useCli } from '../support/cli.js';
import { startUpdraft, stopAll } from '../support/process.js';

const DAILY = `import { dag } from 'updraft';
export default dag({ id: 'daily', schedule: '@daily', startDate: '2026-01-01' }, (t) => void t.task('extract', async () => 1));
`;

const { updraft, setup } = useCli({ 'daily.ts': DAILY }, { UPDRAFT_PROGRESS_INTERVAL: '100ms' });
const ACTOR = `cli:${os.userInfo().username}`;

afterAll(async () => {
  await stopAll();
});

describe('on the embedded database held by standalone', () => {
  it('goes through standalone’s API, which runs the backfill', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const port = await freePort();
    const standalone = startUpdraft(['standalone', '--port', String(port)], setup().env);
    await standalone.ready;
    try {
      const result = await updraft(['backfill', 'daily', '--from', '2026-01-20', '--to', '2026-01-21']);
      expect(result.stdout).toMatch(/created backfill \d+ of daily/);
      expect(result.stdout).toMatch(
        new RegExp(`it runs through standalone \\(pid ${standalone.pid}, http://127.0.0.1:${port}\\)`),
      );
      expect(result.stdout).toMatch(/completed in \d+s: 2 succeeded, 0 failed, 0 left alone/);
      expect(result).toMatchObject({ code: 0 });

      const list = await updraft(['backfill', 'list', '--json']);
      const listed = JSON.parse(list.stdout) as {
        backfills: { dagId: string; from: string; state: string; createdBy: string }[];
      };
      expect(listed.backfills[0]).toMatchObject({
        dagId: 'daily',
        from: '2026-01-20T00:00:00.000Z',
        state: 'completed',
        createdBy: ACTOR,
      });
      // The other commands reach standalone's database through its socket (cli-beside-standalone.test.ts).
      const direct = await updraft(['dags', 'list']);
      expect(direct).toMatchObject({ code: 0 });
      expect(direct.stdout).toContain('daily');
    } finally {
      expect(await standalone.stop()).toMatchObject({ code: 0 });
    }
    // Once it has stopped, the command holds the database itself again.
    const after = await updraft(['backfill', 'list']);
    expect(after).toMatchObject({ code: 0 });
  });
});

describe('on the embedded database held by a process with no scheduler', () => {
  it('refuses, saying a backfill would never run there and what to do', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const port = await freePort();
    const web = startUpdraft(['web', '--port', String(port)], setup().env);
    await web.ready;
    try {
      const result = await updraft(['backfill', 'daily', '--from', '2026-01-20', '--to', '2026-01-21']);
      expect(result).toMatchObject({ code: 1 });
      expect(result.stderr).toContain(
        `held by an updraft process that runs no scheduler (pid ${web.pid}: 'updraft web' or 'updraft worker')`,
      );
      expect(result.stderr).toContain('stop that process and run this command again');
      expect(result.stdout).not.toMatch(/created backfill/);
    } finally {
      expect(await web.stop()).toMatchObject({ code: 0 });
    }
  });
});
