/**
 * Event runs on both drivers, the Updraft side of event triggers: a run started from
 * events (dedupe keys, a conf the params refuse, a paused DAG), run by the engine like any
 * other, and the trigger shown in the UI and the CLI. The sources themselves (NOTIFY,
 * queue, watermark) need a PostgreSQL source database: test/postgres/event-triggers.test.ts.
 */
import { Hono } from 'hono';
import { and, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { authenticate, authOptions } from '../../src/web/auth/middleware.js';
import { setPaused } from '../../src/state/pause.js';
import { dagRuns, eventKeys } from '../../src/db/schema.js';
import { startEventRun } from '../../src/events/start-run.js';
import { apiRoutes } from '../../src/web/api/index.js';
import { uiRoutes } from '../../src/web/ui/index.js';
import { CLI_TEST_TIMEOUT, table, useCli } from '../support/cli.js';
import { useEngine } from '../support/engine.js';

// The connection does not exist: its source fails (logged), the rest works.
const ORDERS = `import { dag } from 'updraft';
export default dag({
  id: 'on_order',
  schedule: null,
  params: { order_id: { type: 'integer', default: 0 } },
  events: { conn: 'nowhere', notify: { channel: 'new_orders', dedupeKey: 'order_id' } },
}, (t) => {
  t.task('echo', async (ctx) => ({ order: ctx.params.order_id, conf: ctx.conf }));
});
`;

describe('event runs in the engine and the UI', () => {
  const setup = useEngine({ 'orders.ts': ORDERS });
  let app: Hono;
  beforeAll(() => {
    const { h } = setup();
    app = new Hono();
    app.use('*', authenticate(h.engine.database.db, authOptions(h.engine.config)));
    app.route('/', uiRoutes(h.engine));
  });

  it('one event starts a run whose conf is the event; the same key again starts none; a conf the params refuse starts none', async () => {
    const { database, h } = setup();
    const finished = h.next('task:state', (e) => e.taskId === 'echo' && e.state === 'success');
    const started = await startEventRun(database.db, 'on_order', [{ conf: { order_id: 7 }, key: 'notify:7' }], {
      batch: false,
    });
    expect(started).toMatchObject({ kind: 'started', runId: expect.stringMatching(/^event__/), events: 1 });
    await finished;
    const [run] = await database.db.select().from(dagRuns).where(eq(dagRuns.runType, 'event'));
    expect(run).toMatchObject({ conf: { order_id: 7 }, state: expect.stringMatching(/running|success/) });

    expect(
      await startEventRun(database.db, 'on_order', [{ conf: { order_id: 7 }, key: 'notify:7' }], { batch: false }),
    ).toEqual({ kind: 'duplicate', duplicates: 1 });
    const refused = await startEventRun(database.db, 'on_order', [{ conf: { order_id: 'x' }, key: 'notify:x' }], {
      batch: false,
    });
    expect(refused).toEqual({
      kind: 'rejected',
      events: 1,
      message:
        'the event conf does not match the params of DAG \'on_order\': order_id: value "x" is not of type integer',
    });
    // A batch: the known key is dropped, the others make one run.
    const batch = await startEventRun(
      database.db,
      'on_order',
      [
        { conf: { order_id: 7 }, key: 'notify:7' },
        { conf: { a: 1 }, key: null },
        { conf: { a: 2 }, key: 'k2' },
      ],
      { batch: true },
    );
    expect(batch).toMatchObject({ kind: 'started', events: 2, duplicates: 1 });
    const runs = await database.db.select({ conf: dagRuns.conf }).from(dagRuns).where(eq(dagRuns.runType, 'event'));
    expect(runs.map((r) => r.conf)).toEqual(
      expect.arrayContaining([{ order_id: 7 }, { events: [{ a: 1 }, { a: 2 }] }]),
    );
    expect(runs).toHaveLength(2);
    const [refusedKey] = await database.db
      .select()
      .from(eventKeys)
      .where(and(eq(eventKeys.key, 'notify:x')));
    expect(refusedKey!.runId).toBeNull();
  });

  it('a paused DAG starts nothing and writes nothing', async () => {
    const { database } = setup();
    await setPaused(database.db, 'on_order', true, 'test');
    try {
      expect(
        await startEventRun(database.db, 'on_order', [{ conf: {}, key: 'notify:paused' }], { batch: false }),
      ).toEqual({ kind: 'inactive', reason: 'the DAG is paused' });
      expect(await database.db.select().from(eventKeys).where(eq(eventKeys.key, 'notify:paused'))).toEqual([]);
    } finally {
      await setPaused(database.db, 'on_order', false, 'test');
    }
  });

  it("the missing connection is the source's error, named with the DAG; the engine reports no error", async () => {
    const { h } = setup();
    const triggers = h.engine.eventTriggers!;
    const status = triggers.status('on_order');
    const message =
      status?.state === 'failing'
        ? status.message
        : await new Promise<string>((resolve) => triggers.events.once('problem', (e) => resolve(e.message)));
    expect(message).toContain("unknown connection 'nowhere'");
    expect(h.errors).toEqual([]);
  });

  it('the DAG list and the DAG page show the trigger; the run shows its conf', async () => {
    const list = await (await app.request('/')).text();
    expect(list).toContain('on NOTIFY nowhere/new_orders (dedupe by order_id)');
    const page = await (await app.request('/ui/dags/on_order?view=runs')).text();
    expect(page).toContain('<dd class="event-trigger">on NOTIFY nowhere/new_orders (dedupe by order_id)</dd>');
    expect(page).toMatch(/<td>event<\/td>/);
    const { database } = setup();
    const [run] = await database.db
      .select({ runId: dagRuns.runId })
      .from(dagRuns)
      .where(eq(dagRuns.runType, 'event'))
      .limit(1);
    const runPage = await (await app.request(`/ui/dags/on_order/runs/${encodeURIComponent(run!.runId)}`)).text();
    expect(runPage).toContain('&quot;order_id&quot;');
  });

  it('the REST API shows the trigger and the runs of type event', async () => {
    const { database } = setup();
    const pass: Parameters<typeof apiRoutes>[1]['read'] = async (_c, next) => next();
    const api = apiRoutes(database.db, {
      read: pass,
      operate: pass,
      actor: () => 'web:test',
      checkResponses: true,
      onError: (e) => {
        throw e;
      },
    });
    const dag = (await (await api.request('/api/v1/dags/on_order')).json()) as { events: string };
    expect(dag.events).toBe('on NOTIFY nowhere/new_orders (dedupe by order_id)');
    const runs = (await (await api.request('/api/v1/dags/on_order/dagRuns')).json()) as {
      dag_runs: { run_type: string; conf: unknown }[];
    };
    expect(runs.dag_runs.map((r) => r.run_type)).toContain('event');
  });
});

describe('the CLI', () => {
  const { updraft, setup } = useCli({ 'orders.ts': ORDERS }, { UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false' });

  it('dags list shows the trigger; dags events shows event runs and dedupe keys', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const list = await updraft(['dags', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(table(list.stdout)[1]!.slice(0, 2)).toEqual([
      'on_order',
      'on NOTIFY nowhere/new_orders (dedupe by order_id)',
    ]);

    const database = await setup().child.open();
    try {
      await startEventRun(database.db, 'on_order', [{ conf: { order_id: 12 }, key: 'notify:12' }], { batch: false });
    } finally {
      await database.close();
    }
    const events = await updraft(['dags', 'events', 'on_order']);
    expect(events.code, events.stderr).toBe(0);
    expect(events.stdout).toContain('on_order: on NOTIFY nowhere/new_orders (dedupe by order_id)');
    expect(events.stdout).toMatch(/event__\S+\s+queued\s+\{"order_id":12\}/);
    expect(events.stdout).toMatch(/notify:12\s+event__/);
    const json = JSON.parse((await updraft(['dags', 'events', 'on_order', '--json'])).stdout) as {
      trigger: string;
      runs: { conf: unknown }[];
    };
    expect(json.trigger).toBe('on NOTIFY nowhere/new_orders (dedupe by order_id)');
    expect(json.runs.map((r) => r.conf)).toEqual([{ order_id: 12 }]);
  });
});
