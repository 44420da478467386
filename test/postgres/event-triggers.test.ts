/**
 * Event triggers against a real PostgreSQL: a source database of the test's own, reached
 * as the named connection 'app_db' (UPDRAFT_CONN_APP_DB), and real engines on a DAGs
 * folder. Waits are on the triggers' own events (a source ready, a run started), never sleeps.
 */
import type { EventEmitter } from 'node:events';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPaused } from '../../src/state/pause.js';
import type { Database } from '../../src/db/client.js';
import { dagRuns, dags, eventKeys, eventWatermarks } from '../../src/db/schema.js';
import type { TriggerEvents } from '../../src/events/source.js';
import type { EventTriggers } from '../../src/events/triggers.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';
import { startEngine, type TestEngine } from '../support/engine.js';
import { useScratchDatabases } from '../support/operators.js';

const dbs = useScratchDatabases(['app']);

const eventDag = (id: string, events: string, extra = '') => `import { dag } from 'updraft';
export default dag({ id: '${id}', schedule: null, events: ${events}${extra} }, (t) => {
  t.task('echo', async (ctx) => ctx.conf);
});
`;

const FILES: Record<string, string> = {
  'notify.ts': eventDag('on_order', "{ conn: 'app_db', notify: { channel: 'new_orders', dedupeKey: 'order_id' } }"),
  'debounce.ts': eventDag('on_burst', "{ conn: 'app_db', notify: { channel: 'bursts' }, debounce: '300ms' }"),
  'watermark.ts': eventDag(
    'on_log',
    "{ conn: 'app_db', table: { name: 'public.audit_log', mode: 'watermark', column: 'id', poll: '200ms' }, maxBatch: 10 }",
  ),
  'missing.ts': eventDag('on_nothing', "{ conn: 'nowhere', notify: { channel: 'x' } }"),
  'queue.ts': eventDag('on_row', "{ conn: 'app_db', table: { name: 'public.orders', poll: '300ms' } }"),
  'batch.ts': eventDag(
    'on_shipments',
    "{ conn: 'app_db', table: { name: 'shipments', queueTable: 'shipment_events' }, debounce: '400ms' }",
  ),
  // Batches of 100 would take 10 s to fill at 10 rows a second: the maximum wait starts the runs.
  'stream.ts': eventDag(
    'on_reading',
    "{ conn: 'app_db', table: { name: 'readings', queueTable: 'reading_events' }, debounce: '3s', maxWait: '5s' }",
  ),
  // A debounce far longer than the test waits: only full batches can start runs in time.
  'bulk.ts': eventDag(
    'on_import',
    "{ conn: 'app_db', table: { name: 'imports', queueTable: 'import_events' }, debounce: '30s', maxBatch: 100 }",
  ),
  'plain.ts': `import { dag } from 'updraft';
export default dag({ id: 'plain', schedule: null }, (t) => { t.task('a', async () => 1); });
`,
};

type Outcome = TriggerEvents['outcome'][0];

/** The next trigger event `name` that `match` accepts. Register it before the action that causes it. */
function next<K extends keyof TriggerEvents>(
  triggers: EventTriggers,
  name: K,
  match: (e: TriggerEvents[K][0]) => boolean,
  timeoutMs = 15_000,
): Promise<TriggerEvents[K][0]> {
  const bus = triggers.events as unknown as EventEmitter;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      bus.off(name, listener);
      reject(new Error(`no matching '${name}' trigger event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (event: TriggerEvents[K][0]) => {
      if (!match(event)) return;
      clearTimeout(timer);
      bus.off(name, listener);
      resolve(event);
    };
    bus.on(name, listener);
  });
}

/** The next `count` outcomes of a DAG's source. */
function outcomes(
  triggers: EventTriggers,
  dagId: string,
  count: number,
  timeoutMs = 15_000,
): Promise<Outcome['outcome'][]> {
  const seen: Outcome['outcome'][] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      triggers.events.off('outcome', listener);
      reject(
        new Error(`${dagId}: ${seen.length} of ${count} outcomes within ${timeoutMs} ms: ${JSON.stringify(seen)}`),
      );
    }, timeoutMs);
    const listener = (e: Outcome) => {
      if (e.dagId !== dagId) return;
      seen.push(e.outcome);
      if (seen.length < count) return;
      clearTimeout(timer);
      triggers.events.off('outcome', listener);
      resolve(seen);
    };
    triggers.events.on('outcome', listener);
  });
}

/** Resolves once the DAG's source is ready in this engine (at once if it already is). */
async function ready(triggers: EventTriggers, dagId: string): Promise<void> {
  const waiting = next(triggers, 'ready', (e) => e.dagId === dagId);
  waiting.catch(() => {});
  if (triggers.status(dagId)?.state === 'ready') return;
  await waiting;
}

async function eventRuns(database: Database, dagId: string) {
  return database.db
    .select({ runId: dagRuns.runId, runType: dagRuns.runType, conf: dagRuns.conf })
    .from(dagRuns)
    .innerJoin(dags, eq(dags.id, dagRuns.dagId))
    .where(and(eq(dags.dagId, dagId), eq(dagRuns.runType, 'event')))
    .orderBy(asc(dagRuns.logicalDate));
}

let database: Database;
let folder: DagFolder;
let h: TestEngine;
const triggers = () => h.engine.eventTriggers!;

beforeAll(async () => {
  process.env.UPDRAFT_CONN_APP_DB = dbs.url('app');
  await dbs.query('app', 'create table audit_log (id serial primary key, note text)');
  await dbs.query('app', "insert into audit_log (note) values ('before updraft')");
  await dbs.query('app', 'create table orders (id serial primary key, item text not null, qty int not null)');
  await dbs.query('app', 'create table shipments (id int primary key)');
  await dbs.query('app', 'create table readings (id serial primary key, value int not null)');
  await dbs.query('app', 'create table imports (id int primary key)');
  database = await testDatabase();
  folder = await makeDagFolder(FILES);
  h = await startEngine(database, folder.path);
});

afterAll(async () => {
  await h?.stop();
  await folder?.cleanup();
  delete process.env.UPDRAFT_CONN_APP_DB;
});

describe('NOTIFY', () => {
  it('a JSON payload starts one run whose conf is the payload, and the run sees it', async () => {
    await ready(triggers(), 'on_order');
    const started = outcomes(triggers(), 'on_order', 1);
    await dbs.query('app', 'select pg_notify($1, $2)', ['new_orders', JSON.stringify({ order_id: 17, total: 9.5 })]);
    const [outcome] = await started;
    expect(outcome).toMatchObject({ kind: 'started', events: 1, duplicates: 0 });
    const runs = await eventRuns(database, 'on_order');
    expect(runs).toEqual([
      {
        runId: expect.stringMatching(/^event__\d{4}-\d\d-\d\dT/),
        runType: 'event',
        conf: { order_id: 17, total: 9.5 },
      },
    ]);
    const id = (outcome as { id: string }).id;
    const finished = await h.next('task:state', (e) => e.runRowId === id && e.state === 'success');
    expect(finished.taskId).toBe('echo');
  });

  it('the same dedupe key twice starts one run', async () => {
    const both = outcomes(triggers(), 'on_order', 2);
    await dbs.query('app', 'select pg_notify($1, $2)', ['new_orders', JSON.stringify({ order_id: 42, note: 'first' })]);
    await dbs.query('app', 'select pg_notify($1, $2)', [
      'new_orders',
      JSON.stringify({ order_id: 42, note: 'resent' }),
    ]);
    expect((await both).map((o) => o.kind)).toEqual(['started', 'duplicate']);
    const runs = await eventRuns(database, 'on_order');
    expect(runs.map((r) => r.conf)).toEqual([
      { order_id: 17, total: 9.5 },
      { order_id: 42, note: 'first' },
    ]);
    const keys = await database.db.select({ key: eventKeys.key }).from(eventKeys).orderBy(asc(eventKeys.key));
    expect(keys.map((k) => k.key)).toEqual(['notify:17', 'notify:42']);
  });

  it('with debounce, a burst starts one run with every event, and text payloads become { payload }', async () => {
    await ready(triggers(), 'on_burst');
    const one = outcomes(triggers(), 'on_burst', 1);
    await dbs.query('app', 'select pg_notify($1, $2)', ['bursts', JSON.stringify({ n: 1 })]);
    await dbs.query('app', 'select pg_notify($1, $2)', ['bursts', 'plain text']);
    await dbs.query('app', 'select pg_notify($1, $2)', ['bursts', JSON.stringify({ n: 3 })]);
    expect(await one).toEqual([expect.objectContaining({ kind: 'started', events: 3 })]);
    expect((await eventRuns(database, 'on_burst')).map((r) => r.conf)).toEqual([
      { events: [{ n: 1 }, { payload: 'plain text' }, { n: 3 }] },
    ]);
  });
});

describe('watermark', () => {
  it('rows already there start nothing; new rows start one run per poll batch, and the watermark moves on', async () => {
    await ready(triggers(), 'on_log');
    const one = outcomes(triggers(), 'on_log', 1);
    await dbs.query('app', "insert into audit_log (note) values ('a'), ('b'), ('c')");
    expect(await one).toEqual([expect.objectContaining({ kind: 'started', events: 3 })]);
    const [run] = await eventRuns(database, 'on_log');
    expect(run!.conf).toEqual({
      events: [
        { id: 2, note: 'a' },
        { id: 3, note: 'b' },
        { id: 4, note: 'c' },
      ],
    });
    const [mark] = await database.db.select({ value: eventWatermarks.value }).from(eventWatermarks);
    expect(mark!.value).toBe('4');
  });
});

describe('a source that cannot work', () => {
  it('logs one clear error naming the DAG and the source, and the scheduler keeps running', async () => {
    // The engine may have reported it already, before this test listened.
    const status = triggers().status('on_nothing');
    const message =
      status?.state === 'failing'
        ? status.message
        : (await next(triggers(), 'problem', (e) => e.dagId === 'on_nothing')).message;
    expect(message).toMatch(/unknown connection 'nowhere': set UPDRAFT_CONN_NOWHERE=postgres:\/\/\.\.\./);
    expect(status === undefined || status.state !== 'ready').toBe(true);
    const run = await h.run('plain');
    expect(run.state).toBe('success');
    expect(h.errors).toEqual([]);
  });
});

describe('queue', () => {
  it('creates the queue table and trigger; rows inserted while no scheduler runs start one run each once one starts', async () => {
    await ready(triggers(), 'on_row');
    const first = outcomes(triggers(), 'on_row', 1);
    await dbs.query('app', "insert into orders (item, qty) values ('apple', 1)");
    expect(await first).toEqual([expect.objectContaining({ kind: 'started', events: 1 })]);

    await h.stop();
    await dbs.query('app', "insert into orders (item, qty) values ('pear', 2), ('plum', 3)");
    await dbs.query('app', "insert into orders (item, qty) values ('fig', 4)");
    expect(await dbs.query('app', 'select count(*)::int as n from updraft_event_queue')).toEqual([{ n: 3 }]);

    h = await startEngine(database, folder.path);
    await ready(triggers(), 'on_row');
    const rest = await outcomes(triggers(), 'on_row', 3);
    expect(rest.map((o) => o.kind)).toEqual(['started', 'started', 'started']);
    const runs = await eventRuns(database, 'on_row');
    expect(runs.map((r) => r.conf)).toEqual([
      { id: 1, item: 'apple', qty: 1 },
      { id: 2, item: 'pear', qty: 2 },
      { id: 3, item: 'plum', qty: 3 },
      { id: 4, item: 'fig', qty: 4 },
    ]);
    expect(await dbs.query('app', 'select count(*)::int as n from updraft_event_queue')).toEqual([{ n: 0 }]);
  });

  it('a paused DAG leaves its rows queued; unpaused, they start their run', async () => {
    const stopped = next(triggers(), 'stopped', (e) => e.dagId === 'on_row');
    await setPaused(database.db, 'on_row', true, 'test');
    await stopped;
    await dbs.query('app', "insert into orders (item, qty) values ('kiwi', 5)");
    expect(await dbs.query('app', 'select count(*)::int as n from updraft_event_queue')).toEqual([{ n: 1 }]);
    const started = outcomes(triggers(), 'on_row', 1);
    await setPaused(database.db, 'on_row', false, 'test');
    expect(await started).toEqual([expect.objectContaining({ kind: 'started' })]);
    expect((await eventRuns(database, 'on_row')).at(-1)!.conf).toEqual({ id: 5, item: 'kiwi', qty: 5 });
    expect(await dbs.query('app', 'select count(*)::int as n from updraft_event_queue')).toEqual([{ n: 0 }]);
  });
});

describe('queue with debounce', () => {
  it('rows inserted in a burst start one run with all of them', async () => {
    await ready(triggers(), 'on_shipments');
    const one = outcomes(triggers(), 'on_shipments', 1);
    for (const id of [1, 2, 3]) await dbs.query('app', 'insert into shipments values ($1)', [id]);
    expect(await one).toEqual([expect.objectContaining({ kind: 'started', events: 3 })]);
    expect((await eventRuns(database, 'on_shipments')).map((r) => r.conf)).toEqual([
      { events: [{ id: 1 }, { id: 2 }, { id: 3 }] },
    ]);
    expect(await dbs.query('app', 'select count(*)::int as n from shipment_events')).toEqual([{ n: 0 }]);
  });
});

describe('queue with debounce under a steady stream', () => {
  it('a row every 100 ms starts runs before the stream stops (maxWait), and what is left goes after the quiet period', async () => {
    await ready(triggers(), 'on_reading');
    let first: Outcome['outcome'] | undefined;
    const started = next(
      triggers(),
      'outcome',
      (e) => e.dagId === 'on_reading' && e.outcome.kind === 'started',
      20_000,
    );
    void started.then(
      (e) => (first = e.outcome),
      () => {},
    );
    let inserted = 0;
    let longestGap = 0;
    // The stream (a row every 100 ms, pacing only) runs until a run started, or 20 s (four maximum waits) without one.
    const deadline = Date.now() + 20_000;
    for (let last = Date.now(); first === undefined && Date.now() < deadline; ) {
      await dbs.query('app', 'insert into readings (value) values ($1)', [++inserted]);
      longestGap = Math.max(longestGap, Date.now() - last);
      last = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(first, 'a run while rows kept arriving').toMatchObject({ kind: 'started' });
    // Rows kept coming within the debounce: only the maximum wait can have started the run.
    expect(longestGap).toBeLessThan(3000);
    const batched = (first as { events: number }).events;
    expect(batched).toBeGreaterThan(0);
    // The stream ends with three more rows (the first run may have taken every row sent before it
    // started): they start one more run after the quiet period, and every row is in one run.
    const resting = next(triggers(), 'outcome', (e) => e.dagId === 'on_reading' && e.outcome.kind === 'started');
    for (let i = 0; i < 3; i++) await dbs.query('app', 'insert into readings (value) values ($1)', [++inserted]);
    const rest = await resting;
    const runs = await eventRuns(database, 'on_reading');
    expect((runs[0]!.conf as { events: unknown[] }).events).toHaveLength(batched);
    const ids = runs.flatMap((r) => (r.conf as { events: { id: number }[] }).events.map((e) => e.id));
    expect(ids).toEqual(Array.from({ length: inserted }, (_, i) => i + 1));
    expect((rest.outcome as { events: number }).events).toBe(inserted - batched);
  });

  it('one insert of 250 rows with maxBatch 100 starts two full runs at once; the remaining 50 wait for the debounce', async () => {
    await ready(triggers(), 'on_import');
    // Well within the 30 s debounce.
    const full = outcomes(triggers(), 'on_import', 2, 10_000);
    await dbs.query('app', 'insert into imports select generate_series(1, 250)');
    expect((await full).map((o) => [o.kind, (o as { events: number }).events])).toEqual([
      ['started', 100],
      ['started', 100],
    ]);
    const runs = await eventRuns(database, 'on_import');
    expect(runs.map((r) => (r.conf as { events: { id: number }[] }).events.map((e) => e.id))).toEqual([
      Array.from({ length: 100 }, (_, i) => i + 1),
      Array.from({ length: 100 }, (_, i) => i + 101),
    ]);
    expect(await dbs.query('app', 'select count(*)::int as n from import_events')).toEqual([{ n: 50 }]);
  });
});

describe('a dropped source connection', () => {
  it('is said once as a warning, reconnects, and the next NOTIFY starts its run', async () => {
    const warned = next(triggers(), 'problem', (e) => e.dagId === 'on_order');
    const back = next(triggers(), 'ready', (e) => e.dagId === 'on_order');
    await dbs.query(
      'app',
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'updraft-events' and datname = current_database()",
    );
    expect(await warned).toMatchObject({
      warning: true,
      message: expect.stringMatching(/^lost the connection .*reconnecting$/),
    });
    await back;
    const started = outcomes(triggers(), 'on_order', 1);
    await dbs.query('app', 'select pg_notify($1, $2)', ['new_orders', JSON.stringify({ order_id: 99 })]);
    expect(await started).toEqual([expect.objectContaining({ kind: 'started' })]);
    expect(h.errors).toEqual([]);
  });
});

describe('two schedulers on one database', () => {
  it('queue rows start exactly one run each; one scheduler listens to a channel, and the other takes over when it stops', async () => {
    const h2 = await startEngine(database, folder.path);
    const both = [triggers(), h2.engine.eventTriggers!];
    try {
      await Promise.all(both.map((t) => ready(t, 'on_row')));
      const before = (await eventRuns(database, 'on_row')).length;
      const started: string[] = [];
      const allStarted = new Promise<void>((resolve) => {
        for (const t of both) {
          t.events.on('outcome', (e) => {
            if (e.dagId === 'on_row' && e.outcome.kind === 'started') started.push(e.outcome.runId);
            if (started.length === 20) resolve();
          });
        }
      });
      for (let i = 0; i < 20; i++)
        await dbs.query('app', 'insert into orders (item, qty) values ($1, $2)', [`item${i}`, i]);
      await allStarted;
      const runs = await eventRuns(database, 'on_row');
      expect(runs).toHaveLength(before + 20);
      expect(new Set(runs.map((r) => (r.conf as { id: number }).id)).size).toBe(runs.length);
      expect(await dbs.query('app', 'select count(*)::int as n from updraft_event_queue')).toEqual([{ n: 0 }]);

      // The first engine listens to 'bursts'; the second stands by, and listens once the first is gone.
      expect(triggers().status('on_burst')?.state).toBe('ready');
      expect(h2.engine.eventTriggers!.status('on_burst')?.state).toBe('starting');
      const takeover = next(h2.engine.eventTriggers!, 'ready', (e) => e.dagId === 'on_burst');
      await h.stop();
      await takeover;
      const one = outcomes(h2.engine.eventTriggers!, 'on_burst', 1);
      await dbs.query('app', 'select pg_notify($1, $2)', ['bursts', JSON.stringify({ n: 4 })]);
      expect(await one).toEqual([expect.objectContaining({ kind: 'started', events: 1 })]);
      expect((await eventRuns(database, 'on_burst')).map((r) => r.conf)).toHaveLength(2);
    } finally {
      await h2.stop();
    }
  });
});
