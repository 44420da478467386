/**
 * Results (XCom) travel between tasks of a run as the objects the tasks returned:
 * a direct upstream's result comes with the try, any other task's through the main
 * thread (ctx.pull of a grand-parent), and a result that JSON cannot hold fails its task.
 * A task that returned null stores the JSON null (an XCom that exists), which the API and
 * the UI show; one that returned undefined stores none.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/web/api/index.js';
import { runPages } from '../../src/web/ui/pages/runs.js';
import { useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';

interface Order { id: number; amount: number }

export const xcom = dag({ id: 'xcom', params: { region: { type: 'string', default: 'eu' } } }, (t) => {
  const extract = t.task('extract', async (ctx): Promise<{ region: string; orders: Order[] }> => ({
    region: ctx.params.region,
    orders: [{ id: 1, amount: 9.5 }, { id: 2, amount: 0.5 }],
  }));
  const total = t.task('total', async (ctx) => {
    const { orders } = await ctx.pull(extract);
    return { count: orders.length, revenue: orders.reduce((sum, o) => sum + o.amount, 0), nested: { ids: orders.map((o) => o.id) } };
  });
  // extract is not upstream of report: its result is asked of the main thread.
  const report = t.task('report', async (ctx) => {
    const totals = await ctx.pull(total);
    const { region, orders } = await ctx.pull(extract);
    return { line: region + ': ' + totals.count + ' orders, ' + totals.revenue, first: orders[0], ids: totals.nested.ids };
  });
  const quiet = t.task('quiet', async () => undefined);
  const listener = t.task('listener', async (ctx) => ({ pulled: (await ctx.pull(quiet)) === undefined ? 'undefined' : 'something' }));
  extract.then(total).then(report);
  quiet.then(listener);
});

export const xcom_null = dag({ id: 'xcom_null' }, (t) => {
  const none = t.task('none', async (): Promise<string | null> => null);
  const child = t.task('child', async (ctx) => ({ got: describe(await ctx.pull(none)) }));
  // none is not upstream of grandchild: its null comes from the database through the main thread.
  const grandchild = t.task('grandchild', async (ctx) => ({ got: describe(await ctx.pull(none)) }));
  none.then(child).then(grandchild);
});

function describe(value: unknown): string {
  return value === null ? 'null' : value === undefined ? 'undefined' : typeof value;
}

export const xcom_unstorable = dag({ id: 'xcom_unstorable' }, (t) => {
  const when = t.task('when', async () => ({ at: new Date(0) }));
  const next = t.task('next', async () => 1);
  when.then(next);
});
`;

const setup = useEngine({ 'xcom.ts': DAGS });

describe('XCom across tasks', () => {
  it("hands each task its upstream's object and a grand-parent's through ctx.pull", async () => {
    const { h } = setup();
    const run = await h.run('xcom', { conf: { region: 'us' } });
    expect(run.state).toBe('success');
    expect(run.tasks.extract!.result).toEqual({
      region: 'us',
      orders: [
        { id: 1, amount: 9.5 },
        { id: 2, amount: 0.5 },
      ],
    });
    expect(run.tasks.total!.result).toEqual({ count: 2, revenue: 10, nested: { ids: [1, 2] } });
    expect(run.tasks.report!.result).toEqual({ line: 'us: 2 orders, 10', first: { id: 1, amount: 9.5 }, ids: [1, 2] });
    // A task that returned nothing stores no XCom; pulling it gives undefined.
    expect(run.tasks.quiet).toMatchObject({ state: 'success', result: undefined });
    expect(run.tasks.listener!.result).toEqual({ pulled: 'undefined' });
    expect(h.errors).toEqual([]);
  });

  it('fails a task whose result JSON cannot hold, with a message naming the problem', async () => {
    const { h } = setup();
    const run = await h.run('xcom_unstorable');
    expect(run.state).toBe('failed');
    expect(run.tasks.when).toMatchObject({ state: 'failed', result: undefined });
    expect(run.tasks.when!.error).toMatch(/^the result of task 'when' cannot be stored as JSON: .*Date/);
    expect(run.tasks.next!.state).toBe('upstream_failed');
  });

  it('stores a null result as JSON null: downstream tasks pull null, the API and the UI show null', async () => {
    const { h, database } = setup();
    const run = await h.run('xcom_null');
    expect(run.state).toBe('success');
    expect(run.tasks.none).toMatchObject({ state: 'success', error: null, result: null });
    expect(run.tasks.child!.result).toEqual({ got: 'null' });
    expect(run.tasks.grandchild!.result).toEqual({ got: 'null' });

    const pass: MiddlewareHandler = async (_c, next) => next();
    const api = apiRoutes(database.db, {
      read: pass,
      operate: pass,
      actor: () => 'web:test',
      checkResponses: true,
      onError: (e) => {
        throw e;
      },
    });
    const base = `/api/v1/dags/xcom_null/dagRuns/${encodeURIComponent(run.runId)}/taskInstances/none/xcomEntries`;
    const entry = await api.request(`${base}/return_value`);
    expect(entry.status).toBe(200);
    const body = (await entry.json()) as Record<string, unknown>;
    expect(body).toHaveProperty('value', null);
    expect(body.key).toBe('return_value');

    const ui = new Hono().route('/', runPages(h.engine));
    const page = await ui.request(`/ui/dags/xcom_null/runs/${encodeURIComponent(run.runId)}/tasks/none`);
    const html = await page.text();
    expect(html).not.toContain('No XCom stored.');
    expect(html).toMatch(/<code>return_value<\/code><\/h3><pre class="json">null<\/pre>/);
  });
});
