/**
 * The dags/order_events.ts example against a shop database of the test's own: it starts
 * paused, and once unpaused a burst of new order events becomes one run that sums them.
 * The debounce is shortened from 10 s to 300 ms; the file is otherwise as shipped.
 */
import { readFile } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import { beforeAll, afterAll, expect, it } from 'vitest';
import { setPaused } from '../../src/state/pause.js';
import { dags } from '../../src/db/schema.js';
import type { EventRunOutcome } from '../../src/events/start-run.js';
import { ROOT } from '../support/cli.js';
import { taskStates, useEngine } from '../support/engine.js';
import { useScratchDatabases } from '../support/operators.js';

const EXAMPLE = (await readFile(`${ROOT}/dags/order_events.ts`, 'utf8')).replace(
  "debounce: '10s'",
  "debounce: '300ms'",
);
const dbs = useScratchDatabases(['shop']);

beforeAll(async () => {
  expect(EXAMPLE).toContain("debounce: '300ms'");
  process.env.UPDRAFT_CONN_SHOP = dbs.url('shop');
  await dbs.query(
    'shop',
    'create table public.order_events (event_id bigserial primary key, order_id bigint, amount text, updated_at timestamptz not null default now())',
  );
});
afterAll(() => {
  delete process.env.UPDRAFT_CONN_SHOP;
});

const setup = useEngine({ 'order_events.ts': EXAMPLE });

it('starts paused; unpaused, a burst of new orders makes one run that sums them', async () => {
  const { database, h } = setup();
  const [dag] = await database.db.select({ isPaused: dags.isPaused }).from(dags).where(eq(dags.dagId, 'order_events'));
  expect(dag!.isPaused).toBe(true);
  const triggers = h.engine.eventTriggers!;
  const ready = new Promise<void>((resolve) =>
    triggers.events.on('ready', (e) => e.dagId === 'order_events' && resolve()),
  );
  await setPaused(database.db, 'order_events', false, 'test');
  await ready;

  const outcome = new Promise<EventRunOutcome>((resolve) =>
    triggers.events.on('outcome', (e) => e.dagId === 'order_events' && resolve(e.outcome)),
  );
  for (const amount of ['12.50', 'n/a', '7.25'])
    await dbs.query('shop', 'insert into public.order_events (order_id, amount) values (1, $1)', [amount]);
  const started = await outcome;
  expect(started).toMatchObject({ kind: 'started', events: 3 });
  const done = await h.next(
    'task:state',
    (e) => e.runRowId === (started as { id: string }).id && e.taskId === 'notify_team' && e.state === 'success',
  );
  expect(done.state).toBe('success');
  const tasks = await taskStates(database, done.runRowId);
  expect(tasks.summarise!.result).toMatchObject({ count: 3, total: 19.75 });
  expect(await dbs.query('shop', 'select count(*)::int as n from public.updraft_event_queue')).toEqual([{ n: 0 }]);
});
