/**
 * Event triggers with Updraft on the embedded database (PGlite, the default) and the
 * source on PostgreSQL: the sources use node-postgres against the named connection
 * whatever Updraft's own driver is, and runs, dedupe keys and queue consumption work there too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { dagRuns } from '../../src/db/schema.js';
import type { EventRunOutcome } from '../../src/events/start-run.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { startEngine, type TestEngine } from '../support/engine.js';
import { useScratchDatabases } from '../support/operators.js';

const dbs = useScratchDatabases(['src']);

const FILES = {
  'ping.ts': `import { dag } from 'updraft';
export default dag({ id: 'on_ping', schedule: null, events: { conn: 'embedded_src', notify: { channel: 'pings', dedupeKey: 'id' } } }, (t) => {
  t.task('echo', async (ctx) => ctx.conf);
});
`,
  'rows.ts': `import { dag } from 'updraft';
export default dag({ id: 'on_item', schedule: null, events: { conn: 'embedded_src', table: { name: 'items' } } }, (t) => {
  t.task('echo', async (ctx) => ctx.conf);
});
`,
};

let home: string;
let database: Database;
let folder: DagFolder;
let h: TestEngine;

beforeAll(async () => {
  process.env.UPDRAFT_CONN_EMBEDDED_SRC = dbs.url('src');
  await dbs.query('src', 'create table items (id int primary key, name text)');
  home = await mkdtemp(path.join(os.tmpdir(), 'updraft-events-'));
  database = await openDatabase({ home });
  expect(database.driver).toBe('pglite');
  folder = await makeDagFolder(FILES);
  h = await startEngine(database, folder.path);
}, 60_000);

afterAll(async () => {
  await h?.stop();
  await database?.close();
  await folder?.cleanup();
  if (home) await rm(home, { recursive: true, force: true });
  delete process.env.UPDRAFT_CONN_EMBEDDED_SRC;
});

/** The next outcome of `dagId`'s source, once it is ready. */
async function nextOutcome(dagId: string, act: () => Promise<unknown>): Promise<EventRunOutcome> {
  const triggers = h.engine.eventTriggers!;
  if (triggers.status(dagId)?.state !== 'ready')
    await new Promise<void>((resolve) => triggers.events.on('ready', (e) => e.dagId === dagId && resolve()));
  const outcome = new Promise<EventRunOutcome>((resolve) =>
    triggers.events.on('outcome', (e) => e.dagId === dagId && resolve(e.outcome)),
  );
  await act();
  return outcome;
}

it('a NOTIFY and a new row each start a run that the engine runs to success', async () => {
  const ping = await nextOutcome('on_ping', () => dbs.query('src', 'select pg_notify($1, $2)', ['pings', '{"id": 1}']));
  expect(ping).toMatchObject({ kind: 'started' });
  const again = await nextOutcome('on_ping', () =>
    dbs.query('src', 'select pg_notify($1, $2)', ['pings', '{"id": 1}']),
  );
  expect(again).toEqual({ kind: 'duplicate', duplicates: 1 });
  const row = await nextOutcome('on_item', () => dbs.query('src', "insert into items values (7, 'seven')"));
  expect(row).toMatchObject({ kind: 'started' });
  for (const started of [ping, row]) {
    const id = (started as { id: string }).id;
    const [run] = await database.db.select({ state: dagRuns.state }).from(dagRuns).where(eq(dagRuns.id, id));
    if (run!.state !== 'success') await h.next('task:state', (e) => e.runRowId === id && e.state === 'success');
  }
  const confs = await database.db.select({ conf: dagRuns.conf }).from(dagRuns).where(eq(dagRuns.runType, 'event'));
  expect(confs.map((c) => c.conf)).toEqual(expect.arrayContaining([{ id: 1 }, { id: 7, name: 'seven' }]));
  expect(confs).toHaveLength(2);
  expect(h.errors).toEqual([]);
});
