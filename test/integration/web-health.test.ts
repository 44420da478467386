/**
 * /health reports the newest scheduler heartbeat of any process sharing the database:
 * every scheduler keeps a row that it touches every heartbeat interval and removes when
 * it stops, so a web-only process sees the schedulers of the others.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { Engine } from '../../src/engine/engine.js';
import { healthRoutes } from '../../src/web/health.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';
import { engineConfig, startEngine, type TestEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';
export default dag({ id: 'idle', schedule: null }, (t) => { t.task('only', async () => 1); });
`;
const FAST = { UPDRAFT_HEARTBEAT_INTERVAL: '200ms', UPDRAFT_HEARTBEAT_TIMEOUT: '2s' };

interface Health {
  status: string;
  scheduler: { last_scheduler_heartbeat: string | null; age_seconds: number | null; alive: number; status: string };
}

let database: Database;
let folder: DagFolder;
let scheduler: TestEngine;
let web: Engine;

beforeAll(async () => {
  database = await testDatabase();
  folder = await makeDagFolder({ 'idle.ts': DAGS });
  // A process with only the web server: it learns of schedulers through the database alone.
  web = new Engine(
    database,
    engineConfig(folder.path, FAST),
    { processor: false, scheduler: false, executor: false },
    pino({ level: 'silent' }),
  );
});
afterAll(async () => {
  await scheduler?.stop();
  await folder?.cleanup();
});

async function health(): Promise<{ status: number; body: Health }> {
  const res = await healthRoutes(web).request('/health');
  return { status: res.status, body: (await res.json()) as Health };
}

describe('/health', () => {
  it('says only that the database is unreachable, and logs why', async () => {
    const failing = new Proxy(database.db, {
      get: (target, key) =>
        key === 'execute'
          ? async () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:5432 as updraft_admin'))
          : Reflect.get(target, key),
    });
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const down = new Engine(
      { ...database, db: failing },
      engineConfig(folder.path, FAST),
      { processor: false, scheduler: false, executor: false },
      log,
    );
    const res = await healthRoutes(down).request('/health');
    const text = await res.text();
    expect({ status: res.status, body: JSON.parse(text) }).toMatchObject({
      status: 503,
      body: { status: 'degraded', database: { status: 'unreachable' }, scheduler: null },
    });
    expect(text).not.toMatch(/10\.1\.2\.3|updraft_admin|ECONNREFUSED/);
    expect(lines.map((line) => JSON.parse(line) as { level: number; msg: string; err?: unknown })).toEqual([
      expect.objectContaining({
        level: 40,
        msg: '/health: the database does not answer: connect ECONNREFUSED 10.1.2.3:5432 as updraft_admin',
      }),
    ]);
    expect(lines.join('')).not.toContain('stack');
  });

  it('says no scheduler has a heartbeat before one starts', async () => {
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.scheduler).toEqual({ last_scheduler_heartbeat: null, age_seconds: null, alive: 0, status: 'none' });
  });

  it("reports another process's scheduler heartbeat, moving on while it runs, and none once it stopped", async () => {
    scheduler = await startEngine(database, folder.path, FAST);
    await expect.poll(async () => (await health()).body.scheduler.status, { timeout: 10_000 }).toBe('ok');
    const first = (await health()).body.scheduler;
    expect(first.alive).toBe(1);
    expect(first.age_seconds).toBeLessThan(2);
    const beat = Date.parse(first.last_scheduler_heartbeat!);
    await expect
      .poll(async () => Date.parse((await health()).body.scheduler.last_scheduler_heartbeat!), { timeout: 10_000 })
      .toBeGreaterThan(beat);

    await scheduler.stop();
    expect((await health()).body.scheduler).toMatchObject({ last_scheduler_heartbeat: null, status: 'none' });
  });
});
