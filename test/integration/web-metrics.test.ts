/** GET /metrics: what the database holds now, and what this process did, in Prometheus' format. */
import { describe, expect, it } from 'vitest';
import { metricsRoutes } from '../../src/web/metrics.js';
import { useEngine } from '../support/engine.js';

const DAG = `import { dag } from 'updraft';
export default dag({ id: 'measured', schedule: null }, (t) => {
  const a = t.task('a', () => 1);
  const b = t.task('b', () => { throw new Error('no'); });
  a.then(b);
});
`;

const setup = useEngine({ 'measured.ts': DAG });

/** The value of one sample line (`name{labels} value`). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics', () => {
  it('counts the tries and runs this process finished, their scheduling delay, and the database state', async () => {
    const { h } = setup();
    const app = metricsRoutes(h.engine);
    const run = await h.run('measured');
    expect(run.state).toBe('failed');

    const response = await app.request('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'updraft_task_instances_finished_total{state="success"}')).toBe(1);
    expect(sample(text, 'updraft_task_instances_finished_total{state="failed"}')).toBe(1);
    expect(sample(text, 'updraft_dag_runs_finished_total{state="failed"}')).toBe(1);
    expect(sample(text, 'updraft_task_scheduling_delay_seconds_count')).toBe(2);
    // Nothing is left unfinished, and the default pool is free.
    expect(sample(text, 'updraft_dag_runs{state="running"}')).toBe(0);
    expect(sample(text, 'updraft_task_instances{state="running"}')).toBe(0);
    expect(sample(text, 'updraft_pool_slots{pool="default_pool"}')).toBe(128);
    expect(sample(text, 'updraft_database_up')).toBe(1);
    expect(text).toContain('updraft_process_resident_memory_bytes');
  });
});
