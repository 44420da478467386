import { describe, expect, it } from 'vitest';
import type { SyncConfig, SyncResult } from '../../src/dag/operators/sync.js';
import { syncOperator } from '../../src/operators/sync/run.js';
import { operatorHarness, useScratchDatabases, type OperatorHarness } from '../support/operators.js';

const dbs = useScratchDatabases(['src', 'dst']);
const harness = () =>
  operatorHarness({ src: dbs.url('src'), dst: dbs.url('dst'), down: 'postgres://postgres@127.0.0.1:1/x' }, 'sync');

/** One try, its state committed after a success as the executor does. */
async function sync(
  h: OperatorHarness,
  config: SyncConfig,
  overrides: Parameters<OperatorHarness['context']>[0] = {},
): Promise<SyncResult> {
  const result = (await syncOperator.run(syncOperator.schema.parse(config), h.context(overrides))) as SyncResult;
  h.commit();
  return result;
}

/** The error of a try that must fail. */
async function failure(h: OperatorHarness, config: SyncConfig): Promise<Error> {
  const error = await syncOperator.run(syncOperator.schema.parse(config), h.context()).then(
    () => undefined,
    (e: Error) => e,
  );
  if (!error) throw new Error('the sync succeeded');
  return error;
}

const rows = (db: 'src' | 'dst', table: string) => dbs.query(db, `select * from ${table} order by 1`);

describe('sync operator: full', () => {
  it('replaces the target with the source, values of every kind intact, and a second run gives the same table', async () => {
    await dbs.query(
      'src',
      `create table orders (id int primary key, customer text, amount numeric(10,2), placed_at timestamptz, note text)`,
    );
    await dbs.query(
      'src',
      `insert into orders values
         (1, 'ada', 10.50, '2026-01-01 10:00+00', E'tab\\there, newline\\nthere, backslash \\\\ here'),
         (2, 'bob', 99.99, '2026-01-02 11:00+02', null),
         (3, 'zoë', 0, null, '')`,
    );
    await dbs.query(
      'dst',
      `create table orders (id int primary key, customer text, amount numeric(10,2), placed_at timestamptz, note text)`,
    );
    await dbs.query('dst', `insert into orders values (7, 'stale', 1, null, null)`);
    const h = harness();
    const config: SyncConfig = { from: { conn: 'src', table: 'orders' }, to: { conn: 'dst', table: 'orders' } };

    const first = await sync(h, config);
    expect(first).toMatchObject({ mode: 'full', rowsRead: 3, rowsWritten: 3, rowsDeleted: 0, created: false });
    expect(await rows('dst', 'orders')).toEqual(await rows('src', 'orders'));
    expect(h.logs.at(-1)).toMatch(/^info: full sync done: 3 rows read, 3 written/);

    const again = await sync(h, config);
    expect(again).toMatchObject({ rowsRead: 3, rowsWritten: 3 });
    expect(await rows('dst', 'orders')).toEqual(await rows('src', 'orders'));
  });

  it('loads the rows of a query into the listed target columns', async () => {
    await dbs.query(
      'src',
      `create table q_orders as select g as id, 'c' || g as customer, g * 10 as amount from generate_series(1, 5) g`,
    );
    await dbs.query(
      'dst',
      `create table big_orders (id bigint, customer text, loaded_at timestamptz default '2026-01-01')`,
    );
    const h = harness();
    const result = await sync(h, {
      from: {
        conn: 'src',
        query: 'select id, upper(customer) as customer from q_orders where amount > 20 -- only the big ones;',
      },
      to: { conn: 'dst', table: 'big_orders' },
    });
    expect(result).toMatchObject({ rowsRead: 3, rowsWritten: 3 });
    expect(
      await dbs.query(
        'dst',
        'select id::int as id, customer, loaded_at is not null as defaulted from big_orders order by id',
      ),
    ).toEqual([
      { id: 3, customer: 'C3', defaulted: true },
      { id: 4, customer: 'C4', defaulted: true },
      { id: 5, customer: 'C5', defaulted: true },
    ]);
    expect(h.logs).toContain(
      'warn: column types differ, values are converted through their text form: id integer -> bigint',
    );
  });

  it('creates a missing target (and its schema) with the source types and a primary key on the key', async () => {
    await dbs.query(
      'src',
      `create table typed (id bigint, code varchar(12), price numeric(10,2), at timestamptz, tags text[], "Mixed Case" int)`,
    );
    await dbs.query(
      'src',
      `insert into typed values (1, 'a', 1.5, now(), '{x,y}', 7), (2, 'b', null, null, '{}', null)`,
    );
    const h = harness();
    const config: SyncConfig = {
      from: { conn: 'src', table: 'typed' },
      to: { conn: 'dst', table: 'mart.typed', create: true },
      key: ['id'],
    };

    expect(await sync(h, config)).toMatchObject({ created: true, rowsWritten: 2 });
    const columns = await dbs.query(
      'dst',
      `select attname, format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = 'mart.typed'::regclass and attnum > 0 order by attnum`,
    );
    expect(columns).toEqual([
      { attname: 'id', type: 'bigint' },
      { attname: 'code', type: 'character varying(12)' },
      { attname: 'price', type: 'numeric(10,2)' },
      { attname: 'at', type: 'timestamp with time zone' },
      { attname: 'tags', type: 'text[]' },
      { attname: 'Mixed Case', type: 'integer' },
    ]);
    const [pk] = await dbs.query(
      'dst',
      `select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'mart.typed'::regclass and contype = 'p'`,
    );
    expect(pk).toEqual({ def: 'PRIMARY KEY (id)' });
    expect(await rows('dst', 'mart.typed')).toEqual(await rows('src', 'typed'));

    expect(await sync(h, config)).toMatchObject({ created: false, rowsWritten: 2 });
  });

  it('rolls back a load that fails on a value: the target stays as it was and the message names the field and the row', async () => {
    await dbs.query('src', `create table codes (id int, code text)`);
    await dbs.query('src', `insert into codes select g, g::text from generate_series(1, 1000) g`);
    await dbs.query('src', `insert into codes values (1001, 'x')`);
    await dbs.query('dst', `create table codes (id int, code int)`);
    await dbs.query('dst', `insert into codes values (1, 100)`);
    const h = harness();

    const error = await failure(h, { from: { conn: 'src', table: 'codes' }, to: { conn: 'dst', table: 'codes' } });
    expect(error.message).toMatch(
      /^sync to\.table: invalid input syntax for type integer: "x" \(COPY codes, line 1001, column code: "x"\)$/,
    );
    expect(await rows('dst', 'codes')).toEqual([{ id: 1, code: 100 }]);
  });

  it('also rolls back a table it created for a load that failed', async () => {
    await dbs.query('src', `create table ratios (id int, r float8)`);
    await dbs.query('src', `insert into ratios values (1, 1), (2, 0)`);
    const h = harness();
    const error = await failure(h, {
      from: { conn: 'src', query: 'select id, 1 / r as inverse from ratios' },
      to: { conn: 'dst', table: 'inverses', create: true },
    });
    expect(error.message).toMatch(/^sync from\.query: division by zero/);
    expect(await dbs.query('dst', `select to_regclass('inverses') as t`)).toEqual([{ t: null }]);
  });
});

describe('sync operator: incremental', () => {
  const config = (extra: Partial<SyncConfig> = {}): SyncConfig => ({
    from: { conn: 'src', table: 'events' },
    to: { conn: 'dst', table: 'events' },
    key: ['id'],
    incremental: { column: 'updated_at' },
    ...extra,
  });

  it('loads everything first, then upserts newer rows, catches late rows only with a lookback, and re-runs idempotently', async () => {
    await dbs.query(
      'src',
      `create table events (id int primary key, v text, payload json, updated_at timestamptz not null)`,
    );
    await dbs.query(
      'src',
      `insert into events values (1, 'a', '{"n": 1}', '2026-03-01 10:00+00'), (2, 'b', '{"n": 2}', '2026-03-01 11:00+00'), (3, 'c', null, '2026-03-01 12:00:00.123456+00')`,
    );
    await dbs.query(
      'dst',
      `create table events (id int primary key, v text, payload json, updated_at timestamptz not null, extra text default 'kept')`,
    );
    const h = harness();

    const first = await sync(h, config());
    expect(first).toMatchObject({ mode: 'incremental', rowsRead: 3, rowsWritten: 3, rowsDeleted: 0 });
    expect(new Date(first.watermark as string).toISOString()).toBe('2026-03-01T12:00:00.123Z');
    expect(h.state.get('watermark')).toBe(first.watermark);
    expect(first.watermark).toMatch(/^2026-03-01T12:00:00\.123456/);

    await dbs.query(
      'src',
      `update events set v = 'b2', payload = '{"n": 22}', updated_at = '2026-03-01 13:00+00' where id = 2`,
    );
    await dbs.query('src', `insert into events values (4, 'd', null, '2026-03-01 14:00+00')`);
    await dbs.query('dst', `update events set extra = 'mine' where id = 2`);
    const second = await sync(h, config());
    expect(second).toMatchObject({ rowsRead: 2, rowsWritten: 2 });
    expect(new Date(h.state.get('watermark') as string).toISOString()).toBe('2026-03-01T14:00:00.000Z');
    expect(await dbs.query('dst', 'select id, v, payload, extra from events order by id')).toEqual([
      { id: 1, v: 'a', payload: { n: 1 }, extra: 'kept' },
      { id: 2, v: 'b2', payload: { n: 22 }, extra: 'mine' },
      { id: 3, v: 'c', payload: null, extra: 'kept' },
      { id: 4, v: 'd', payload: null, extra: 'kept' },
    ]);

    // A row committed late, with a time below the mark.
    await dbs.query('src', `insert into events values (5, 'late', null, '2026-03-01 13:30+00')`);
    const missed = await sync(h, config());
    expect(missed).toMatchObject({ rowsRead: 0, rowsWritten: 0 });
    expect(new Date(missed.watermark as string).toISOString()).toBe('2026-03-01T14:00:00.000Z');
    expect(await dbs.query('dst', 'select id from events where id = 5')).toEqual([]);

    const caught = await sync(h, config({ incremental: { column: 'updated_at', lookback: '1h' } }));
    // Above 14:00 less an hour: rows 5 (13:30) and 4 (14:00); only 5 is new.
    expect(caught).toMatchObject({ rowsRead: 2, rowsWritten: 1 });
    expect(new Date(caught.watermark as string).toISOString()).toBe('2026-03-01T14:00:00.000Z');
    expect(await rows('dst', 'events')).toEqual(
      (await rows('src', 'events')).map((r) => ({ ...r, extra: r.id === 2 ? 'mine' : 'kept' })),
    );

    // The same interval again, from the same mark: nothing changes.
    const before = await rows('dst', 'events');
    h.state.set('watermark', second.watermark);
    const rerun = await sync(h, config({ incremental: { column: 'updated_at', lookback: '1h' } }));
    expect(rerun).toMatchObject({ rowsRead: 2, rowsWritten: 0 });
    expect(await rows('dst', 'events')).toEqual(before);
    expect(h.logs.filter((l) => l.includes('incremental sync done'))).toHaveLength(5);
  });

  it('deletes target rows whose key left the source when deletes is set', async () => {
    await dbs.query(
      'src',
      `create table accounts (region text, id int8, balance int, seq int8, primary key (region, id))`,
    );
    await dbs.query('src', `insert into accounts values ('eu', 1, 10, 1), ('eu', 2, 20, 2), ('us', 1, 30, 3)`);
    const h = harness();
    const cfg = (deletes: boolean): SyncConfig => ({
      from: { conn: 'src', table: 'accounts' },
      to: { conn: 'dst', table: 'accounts', create: true },
      key: ['region', 'id'],
      incremental: { column: 'seq' },
      deletes,
    });
    const first = await sync(h, cfg(true));
    // A bigint mark is kept as a string: it could exceed what a JSON number holds exactly.
    expect(first).toMatchObject({ created: true, rowsRead: 3, rowsWritten: 3, rowsDeleted: 0, watermark: '3' });

    await dbs.query('src', `delete from accounts where region = 'eu' and id = 2`);
    expect(await sync(h, cfg(false))).toMatchObject({ rowsRead: 0, rowsDeleted: 0 });
    expect(await dbs.query('dst', 'select count(*)::int as n from accounts')).toEqual([{ n: 3 }]);
    expect(await sync(h, cfg(true))).toMatchObject({ rowsRead: 0, rowsDeleted: 1, watermark: '3' });
    expect(await rows('dst', 'accounts')).toEqual(await rows('src', 'accounts'));
  });

  it('keeps an integer mark as a number and reads only above it', async () => {
    await dbs.query('src', `create table ticks (id int primary key, n int)`);
    await dbs.query('src', `insert into ticks select g, g from generate_series(1, 10) g`);
    const h = harness();
    const cfg: SyncConfig = {
      from: { conn: 'src', table: 'ticks' },
      to: { conn: 'dst', table: 'ticks', create: true },
      key: ['id'],
      incremental: { column: 'id' },
    };
    expect(await sync(h, cfg)).toMatchObject({ rowsRead: 10, watermark: 10 });
    await dbs.query('src', `insert into ticks values (11, 11), (12, 12)`);
    expect(await sync(h, cfg)).toMatchObject({ rowsRead: 2, rowsWritten: 2, watermark: 12 });
    expect(h.state.get('watermark')).toBe(12);

    // A target dropped and created again starts from scratch, whatever the mark says.
    await dbs.query('dst', 'drop table ticks');
    expect(await sync(h, cfg)).toMatchObject({ created: true, rowsRead: 12, rowsWritten: 12, watermark: 12 });
  });

  it('fails on a bad value without touching the target or the mark', async () => {
    await dbs.query('src', `create table readings (id int primary key, value text, at timestamptz)`);
    await dbs.query('src', `insert into readings values (1, '1.5', '2026-03-01 10:00+00')`);
    await dbs.query('dst', `create table readings (id int primary key, value numeric, at timestamptz)`);
    const h = harness();
    const cfg: SyncConfig = {
      from: { conn: 'src', table: 'readings' },
      to: { conn: 'dst', table: 'readings' },
      key: ['id'],
      incremental: { column: 'at' },
    };
    const { watermark } = await sync(h, cfg);

    await dbs.query(
      'src',
      `insert into readings values (2, '2.5', '2026-03-01 11:00+00'), (3, 'n/a', '2026-03-01 12:00+00')`,
    );
    await dbs.query('src', `update readings set value = '9', at = '2026-03-01 11:30+00' where id = 1`);
    const error = await failure(h, cfg);
    expect(error.message).toMatch(/^sync to\.table: invalid input syntax for type numeric: "n\/a"/);
    h.commit(); // Even if the executor committed this try's effects, there would be none.
    expect(h.state.get('watermark')).toBe(watermark);
    expect(await rows('dst', 'readings')).toEqual([{ id: 1, value: '1.5', at: new Date('2026-03-01T10:00:00Z') }]);
  });

  it('names the key when the target cannot upsert on it or the source repeats it', async () => {
    await dbs.query('src', `create table dupes (id int, v text, seq int)`);
    await dbs.query('src', `insert into dupes values (1, 'a', 1), (1, 'b', 2)`);
    await dbs.query('dst', `create table dupes (id int, v text, seq int)`);
    const h = harness();
    const cfg: SyncConfig = {
      from: { conn: 'src', table: 'dupes' },
      to: { conn: 'dst', table: 'dupes' },
      key: ['id'],
      incremental: { column: 'seq' },
    };
    expect((await failure(h, cfg)).message).toBe(
      "sync key: table 'dupes' has no primary key or unique index on exactly (id)",
    );
    await dbs.query('dst', `alter table dupes add primary key (id)`);
    const repeated = 'sync key: two rows read have the same key (id); the key must be unique in the source';
    // Into an empty target (rows copied straight in) and into one with rows (upserted).
    expect((await failure(h, cfg)).message).toBe(repeated);
    await dbs.query('dst', `insert into dupes values (9, 'z', 0)`);
    expect((await failure(h, cfg)).message).toBe(repeated);
    expect(await rows('dst', 'dupes')).toEqual([{ id: 9, v: 'z', seq: 0 }]);
  });
});

describe('sync operator: mistakes name the operator and the field', () => {
  it('reports missing tables and columns, unknown connections and unreachable databases', async () => {
    await dbs.query('src', `create table people (id int primary key, name text)`);
    await dbs.query('dst', `create table people_narrow (id int primary key)`);
    const h = harness();
    const base = {
      from: { conn: 'src', table: 'people' },
      to: { conn: 'dst', table: 'people_copy' },
    } satisfies SyncConfig;
    const message = async (config: SyncConfig) => (await failure(h, config)).message;

    expect(await message({ ...base, from: { conn: 'src', table: 'nobody' } })).toBe(
      "sync from.table: table 'nobody' on 'src' does not exist",
    );
    expect(await message({ ...base, columns: ['id', 'email'] })).toBe(
      "sync columns: table 'people' on 'src' has no column 'email' (it has: id, name)",
    );
    expect(await message({ ...base, key: ['ID'] })).toBe(
      "sync key: table 'people' on 'src' has no column 'ID' (it has: id, name)",
    );
    expect(await message({ ...base, key: ['id'], incremental: { column: 'changed_at' } })).toBe(
      "sync incremental.column: table 'people' on 'src' has no column 'changed_at' (it has: id, name)",
    );
    expect(await message({ ...base, key: ['id'], incremental: { column: 'id', lookback: '1h' } })).toBe(
      "sync incremental.lookback: a duration can only be subtracted from a date or timestamp column; 'id' is integer",
    );
    expect(await message(base)).toBe(
      "sync to.table: table 'people_copy' on 'dst' does not exist (set to.create: true to create it from the source columns)",
    );
    expect(await message({ ...base, to: { conn: 'dst', table: 'people_narrow' } })).toBe(
      "sync to.table: table 'people_narrow' on 'dst' has no column 'name' (table 'people' on 'src' has it; add it to the table or list the columns to copy in columns)",
    );
    expect(await message({ ...base, to: { conn: 'src', table: 'people' } })).toBe(
      "sync to.table: 'people' is the source table",
    );
    expect(await message({ ...base, from: { conn: 'src', query: 'select id, nme from people' } })).toMatch(
      /^sync from\.query: column "nme" does not exist/,
    );
    expect(await message({ ...base, from: { conn: 'nowhere', table: 'people' } })).toMatch(
      /^sync from\.conn: unknown connection 'nowhere'/,
    );
    expect(await message({ ...base, to: { conn: 'down', table: 'people' } })).toMatch(
      /^sync to\.conn: cannot reach connection 'down' .*ECONNREFUSED/,
    );
    expect(await dbs.query('dst', `select to_regclass('people_copy') as t`)).toEqual([{ t: null }]);
  });
});

describe('sync operator: abort', () => {
  it('stops a copy in flight when the task is aborted and leaves the target as it was', async () => {
    await dbs.query('dst', `create table stream (id int8, pad text)`);
    await dbs.query('dst', `insert into stream values (1, 'before')`);
    const h = harness();
    const abort = new AbortController();
    const log = (level: string) => (message: string) => {
      h.logs.push(`${level}: ${message}`);
      // The first progress line: rows are flowing through both COPY streams.
      if (message.startsWith('rows: ') && !abort.signal.aborted) {
        abort.abort();
      }
    };
    const config: SyncConfig = {
      // Two small series joined: rows flow at once (one big series would be materialised first).
      from: {
        conn: 'src',
        query: `select a * 100000 + b as id, repeat('x', 100) as pad from generate_series(1, 500) a, generate_series(1, 100000) b`,
      },
      to: { conn: 'dst', table: 'stream' },
    };
    const error = await sync(h, config, {
      abort,
      log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    // Had the abort not stopped the copy, its 50 million rows would outlast the test's timeout.
    expect(error?.name).toBe('AbortError');
    expect(await rows('dst', 'stream')).toEqual([{ id: '1', pad: 'before' }]);

    // The pools are fine afterwards: a broken client was discarded, not reused.
    await dbs.query('src', `create table after_abort as select 1 as id`);
    expect(
      await sync(h, {
        from: { conn: 'src', table: 'after_abort' },
        to: { conn: 'dst', table: 'after_abort', create: true },
      }),
    ).toMatchObject({ rowsWritten: 1 });
  });
});
