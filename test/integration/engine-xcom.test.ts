/**
 * Results (XCom) travel between tasks of a run as the objects the tasks returned:
 * a direct upstream's result comes with the try, any other task's through the main
 * thread (ctx.pull of a grand-parent), and a result that JSON cannot hold fails its task.
 */
import { describe, expect, it } from 'vitest';
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
    expect(run.tasks.extract!.result).toEqual({ region: 'us', orders: [{ id: 1, amount: 9.5 }, { id: 2, amount: 0.5 }] });
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
});
