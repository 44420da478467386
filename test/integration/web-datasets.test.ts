/**
 * Datasets as a user sees them in the web UI and the API (docs/datasets.md): the links
 * between producing tasks and consuming DAGs (there before any event), the events with
 * their producing and triggered runs, the dataset schedule on the DAG list and page, and
 * the triggering events on the consumer's run page.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/auth/index.js';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { apiRoutes } from '../../src/web/api/index.js';
import { dagPages } from '../../src/web/ui/pages/dags.js';
import { datasetPages } from '../../src/web/ui/pages/datasets.js';
import { runPages } from '../../src/web/ui/pages/runs.js';
import { useEngine } from '../support/engine.js';
import { uiClient, uiSessions, type Session } from '../support/ui.js';

const DAGS = `import { dag } from 'updraft';

export const producer = dag({ id: 'web_producer' }, (t) => {
  t.task('load_sales', { outlets: ['warehouse://public.sales'] }, async () => 1);
});
export const consumer = dag({ id: 'web_consumer', schedule: { datasets: ['warehouse://public.sales'] } }, (t) => {
  t.task('report', async (ctx) => ctx.triggeringEvents.length);
});
export const idle = dag({ id: 'web_idle', schedule: { datasets: ['warehouse://public.stock', 'warehouse://public.sales'], when: 'any' } }, (t) => {
  t.task('noop', async () => 0);
});
`;

const setup = useEngine({ 'datasets.ts': DAGS });
const pass: MiddlewareHandler = async (_c, next) => next();
let ui: Hono;
let api: Hono;
let sessions: Partial<Record<Role, Session>> = {};
const { get } = uiClient(() => ui);
let consumerRunId = '';

beforeAll(async () => {
  const { database, h } = setup();
  ui = new Hono();
  ui.use('*', authenticate(database.db, authOptions(h.engine.config)));
  ui.route('/', dagPages(h.engine));
  ui.route('/', runPages(h.engine));
  ui.route('/', datasetPages(h.engine));
  api = apiRoutes(database.db, {
    read: pass,
    operate: pass,
    actor: () => 'web:test',
    checkResponses: true,
    onError: (e) => {
      throw e;
    },
  });
  sessions = await uiSessions(database.db, 'ds');
});

async function apiGet(path: string) {
  const res = await api.request(`/api/v1${path}`);
  return { status: res.status, body: (await res.json()) as any };
}

describe('datasets in the UI and the API', () => {
  it('shows the links between producing tasks and consuming DAGs before any event', async () => {
    const page = await get('/ui/datasets', sessions.viewer);
    expect(page.status).toBe(200);
    expect(page.html).toContain('warehouse://public.sales');
    expect(page.html).toContain('web_producer.load_sales');
    expect(page.html).toContain('web_consumer');
    expect(page.html).toContain('never');
    const { body } = await apiGet('/datasets');
    expect(body.total_entries).toBe(2);
    expect(body.datasets[0]).toMatchObject({
      uri: 'warehouse://public.sales',
      producing_tasks: [{ dag_id: 'web_producer', task_id: 'load_sales' }],
      consuming_dags: [
        { dag_id: 'web_consumer', when: 'all' },
        { dag_id: 'web_idle', when: 'any' },
      ],
      last_event_at: null,
      event_count: 0,
    });
    expect(body.datasets[1]).toMatchObject({
      uri: 'warehouse://public.stock',
      producing_tasks: [],
      consuming_dags: [{ dag_id: 'web_idle', when: 'any' }],
    });
  });

  it('shows the dataset schedule on the DAG page, and the datasets a DAG updates', async () => {
    const consumer = await get('/ui/dags/web_consumer', sessions.viewer);
    expect(consumer.html).toContain('on datasets:');
    expect(consumer.html).toContain('href="/ui/datasets/events?uri=warehouse%3A%2F%2Fpublic.sales"');
    expect(consumer.html).toContain('when its datasets are updated');
    const producer = await get('/ui/dags/web_producer', sessions.viewer);
    expect(producer.html).toContain('updates datasets');
    expect(producer.html).toMatch(/warehouse:\/\/public\.sales<\/code><\/a> <span class="muted">\(load_sales\)/);
    const { body } = await apiGet('/dags/web_idle');
    expect(body).toMatchObject({
      schedule: null,
      dataset_schedule: { datasets: ['warehouse://public.stock', 'warehouse://public.sales'], when: 'any' },
    });
  });

  it("lists a producer's event with the runs it triggered, and the consumer's run page shows it", async () => {
    const { h } = setup();
    const ended = new Promise<string>((resolve) => {
      const listener = (e: { runRowId: string; dagId: string }) => {
        if (e.dagId !== 'web_consumer') return;
        h.engine.bus.off('run:finished', listener);
        resolve(e.runRowId);
      };
      h.engine.bus.on('run:finished', listener);
    });
    const produced = await h.run('web_producer');
    expect(produced.state).toBe('success');
    await ended;
    // web_idle ('any') ran too; both runs consumed the one event.
    const { body } = await apiGet(`/datasets/events?uri=${encodeURIComponent('warehouse://public.sales')}`);
    expect(body.total_entries).toBe(1);
    const event = body.dataset_events[0];
    expect(event).toMatchObject({
      dataset_uri: 'warehouse://public.sales',
      source_dag_id: 'web_producer',
      source_task_id: 'load_sales',
      source_run_id: produced.runId,
      source_try_number: 1,
    });
    expect(event.created_dagruns.map((r: { dag_id: string }) => r.dag_id).sort()).toEqual(['web_consumer', 'web_idle']);
    consumerRunId = event.created_dagruns.find((r: { dag_id: string }) => r.dag_id === 'web_consumer').dag_run_id;
    expect(consumerRunId).toMatch(/^dataset_triggered__/);

    const events = await get(
      `/ui/datasets/events?uri=${encodeURIComponent('warehouse://public.sales')}`,
      sessions.viewer,
    );
    expect(events.html).toContain(`href="/ui/dags/web_producer/runs/${encodeURIComponent(produced.runId)}"`);
    expect(events.html).toContain(`href="/ui/dags/web_consumer/runs/${encodeURIComponent(consumerRunId)}"`);
    const list = await get('/ui/datasets', sessions.viewer);
    // The sales row now has a last event and a count of 1.
    expect(list.html).toMatch(/public\.sales<\/code>.*?<time datetime="[^"]+">[^<]+<\/time><\/td><td>1<\/td>/);

    const run = await get(`/ui/dags/web_consumer/runs/${encodeURIComponent(consumerRunId)}`, sessions.viewer);
    expect(run.status).toBe(200);
    expect(run.html).toContain('Triggering dataset events');
    expect(run.html).toContain('web_producer.load_sales');
    expect(run.html).toContain('dataset_triggered');
  });

  it('answers 404 for an unknown dataset', async () => {
    expect((await apiGet('/datasets/events?uri=nowhere://x')).status).toBe(404);
    expect((await get('/ui/datasets/events?uri=nowhere://x', sessions.viewer)).status).toBe(404);
  });
});
