/**
 * A long-running process whose DAG files change leaves no zombie child processes. Each
 * parse runs in a fresh thread whose tsx starts an esbuild service (a child process); the
 * thread used to end without waiting for it, leaving one zombie `esbuild` per changed file.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, freePort, useCli } from '../support/cli.js';
import { testDriver } from '../support/db.js';
import { startUpdraft, stopAll } from '../support/process.js';

const source = (version: number) => `import { dag } from 'updraft';
export default dag({ id: 'churn', schedule: null, description: 'version ${version}' }, (t) => void t.task('a', async () => ${version}));
`;

const { setup } = useCli({ 'churn.ts': source(0) }, { UPDRAFT_DAGS_POLL_INTERVAL: '200ms', UPDRAFT_LOG_LEVEL: 'info' });

afterAll(async () => {
  await stopAll();
});

/** The states of the process's children, e.g. ['S', 'Z']: `ps --ppid`. */
async function childStates(pid: number): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)('ps', ['--ppid', String(pid), '-o', 'stat=']);
    return stdout
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

describe('a process whose DAG files change', () => {
  it('reaps the esbuild helpers of its parse threads: no zombie children', { timeout: CLI_TEST_TIMEOUT }, async () => {
    // The embedded database belongs to one process: standalone there, a scheduler on PostgreSQL.
    const args = testDriver() === 'pglite' ? ['standalone', '--port', String(await freePort())] : ['scheduler'];
    const proc = startUpdraft(args, setup().env);
    await proc.ready;
    const changes = 4;
    for (let version = 1; version <= changes; version++) {
      await setup().folder.write('churn.ts', source(version));
      // Each change is parsed and stored as a new version of the DAG.
      await proc.waitFor(new RegExp(`(stored new versions of churn[\\s\\S]*){${version + 1}}`));
    }
    const zombies = (await childStates(proc.pid)).filter((state) => state.startsWith('Z'));
    expect(zombies, proc.output().slice(-2_000)).toEqual([]);
    expect(await proc.stop()).toMatchObject({ code: 0 });
  });
});
