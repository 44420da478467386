/** `updraft web`: the web server alone, on a port of one's choosing. */
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, freePort, useCli } from '../support/cli.js';
import { startUpdraft, stopAll } from '../support/process.js';

const { updraft, setup } = useCli({});
afterAll(stopAll);

describe('updraft web', () => {
  it(
    'documents its port and host, and that it cannot share the embedded database with standalone',
    async () => {
      const { code, stdout } = await updraft(['web', '--help']);
      expect(code).toBe(0);
      expect(stdout).toContain('--port');
      expect(stdout).toContain('--host');
      expect(stdout).toMatch(/embedded database[\s\S]*standalone/);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'serves /health without scheduling anything, and stops on SIGTERM',
    async () => {
      const port = await freePort();
      const web = startUpdraft(['web', '--port', String(port)], setup().env);
      await web.ready;
      expect(web.output()).toContain('Updraft is running (web server)');
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        status: 'ok',
        roles: { processor: false, scheduler: false, executor: false },
        scheduler: { last_scheduler_heartbeat: null },
        executor: null,
      });
      expect(await web.stop()).toEqual({ code: 0, signal: null });
    },
    CLI_TEST_TIMEOUT,
  );
});
