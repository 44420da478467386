/**
 * /health tells whether this process's scheduler is alive: the time of its loop's last
 * pass and its age, moving on as the loop runs; null in a process without a scheduler.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { healthRoutes } from '../../src/web/health.js';
import { engineConfig, useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';
export default dag({ id: 'idle', schedule: null }, (t) => { t.task('only', async () => 1); });
`;

interface Health {
  status: string;
  scheduler: { last_scheduler_heartbeat: string | null; age_seconds: number | null; status: string };
}

async function health(engine: Engine): Promise<{ status: number; body: Health }> {
  const res = await healthRoutes(engine).request('/health');
  return { status: res.status, body: (await res.json()) as Health };
}

describe('/health', () => {
  const setup = useEngine({ 'idle.ts': DAGS });

  it("reports the scheduler's last loop and its age for a scheduler process, and the heartbeat moves on", async () => {
    const { engine } = setup().h;
    await expect.poll(() => engine.scheduler!.lastLoopAt, { timeout: 10_000 }).toBeDefined();
    const first = await health(engine);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('ok');
    expect(first.body.scheduler.status).toBe('ok');
    const beat = Date.parse(first.body.scheduler.last_scheduler_heartbeat!);
    expect(beat).toBeLessThanOrEqual(Date.now());
    // The loop runs at least every poll interval (500 ms in tests).
    expect(first.body.scheduler.age_seconds).toBeGreaterThanOrEqual(0);
    expect(first.body.scheduler.age_seconds).toBeLessThan(5);
    await expect
      .poll(async () => Date.parse((await health(engine)).body.scheduler.last_scheduler_heartbeat!), { timeout: 10_000 })
      .toBeGreaterThan(beat);
  });

  it('reports no heartbeat for a process without the scheduler role', async () => {
    const web = new Engine(setup().database, engineConfig('/nonexistent'), { processor: false, scheduler: false, executor: false }, pino({ level: 'silent' }));
    const { status, body } = await health(web);
    expect(status).toBe(200);
    expect(body.scheduler).toEqual({ last_scheduler_heartbeat: null, age_seconds: null, status: 'not in this process' });
  });
});
