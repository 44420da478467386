import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { CleanseConfig, CleanseResult } from '../../src/dag/operators/cleanse.js';
import { cleanseOperator } from '../../src/operators/cleanse/run.js';
import { operatorHarness, useScratchDatabases } from '../support/operators.js';

const dbs = useScratchDatabases(['wh']);
const harness = () => operatorHarness({ wh: dbs.url('wh') }, 'cleanse');
const run = (h: ReturnType<typeof harness>, config: Omit<CleanseConfig, 'conn'>, overrides = {}) =>
  cleanseOperator.run(
    cleanseOperator.schema.parse({ conn: 'wh', ...config }),
    h.context(overrides),
  ) as Promise<CleanseResult>;
const sql = <R extends pg.QueryResultRow = Record<string, any>>(text: string, values?: unknown[]) =>
  dbs.query<R>('wh', text, values);
const exists = async (table: string) =>
  (await sql('select to_regclass($1) is not null as found', [table]))[0]!.found as boolean;
const quarantined = (table: string) =>
  sql(`select dag_id, run_id, task_id, rule, column_name, reason, "row" from ${table} order by id`);

describe('cleanse operator', () => {
  it('trims, lowers, uppers, nulls and defaults values, counting the rows it changed', async () => {
    await sql(`create table people (id int, name text, email text, country text, status text, score int);
      insert into people values
        (1, '  Ada ', ' ADA@X.ORG', 'fr', 'n/a', null),
        (2, 'Bob', 'bob@x.org', 'DE', 'active', 5),
        (3, null, null, 'us', '', 7)`);
    const h = harness();
    const result = await run(h, {
      table: 'people',
      rules: [
        { rule: 'trim', columns: ['name', 'email'] },
        { rule: 'lower', columns: ['email'] },
        { rule: 'upper', columns: ['country'] },
        { rule: 'nullIf', column: 'status', values: ['n/a', ''] },
        { rule: 'default', column: 'status', value: 'unknown' },
        // Compared as integers, not as text.
        { rule: 'nullIf', column: 'score', values: [5] },
        { rule: 'default', column: 'score', value: 0 },
      ],
    });
    expect(result).toEqual({ rowsIn: 3, changed: 3, rejected: 0, deduplicated: 0, rowsOut: 3, rejectedByRule: {} });
    expect(await sql('select * from people order by id')).toEqual([
      { id: 1, name: 'Ada', email: 'ada@x.org', country: 'FR', status: 'unknown', score: 0 },
      { id: 2, name: 'Bob', email: 'bob@x.org', country: 'DE', status: 'active', score: 0 },
      { id: 3, name: null, email: null, country: 'US', status: 'unknown', score: 7 },
    ]);
    expect(h.logs).toEqual(
      expect.arrayContaining([
        'info: rules[0] trim name, email: 1 changed',
        'info: rules[1] lower email: 1 changed',
        'info: rules[2] upper country: 2 changed',
        'info: rules[3] nullIf status: 2 changed',
        'info: rules[4] default status: 2 changed',
        'info: rules[5] nullIf score: 1 changed',
        'info: rules[6] default score: 2 changed',
      ]),
    );
    // No row was rejected, but the quarantine is there for whoever reads it downstream.
    expect(await quarantined('people_quarantine')).toEqual([]);
  });

  it('rejects rows failing required, regex, range and allowed to the quarantine, with the rule, the reason and the row as read', async () => {
    await sql(`create table signups (id int, email text, age int, plan text);
      insert into signups values
        (1, 'a@x.org', 30, 'free'), (2, null, 40, 'pro'), (3, '   ', 20, 'free'), (4, 'not-an-email', 25, 'pro'),
        (5, 'b@x.org', 150, 'pro'), (6, 'c@x.org', -1, 'free'), (7, 'd@x.org', 33, 'gold'), (8, 'e@x.org', null, 'free')`);
    const h = harness();
    const result = await run(h, {
      table: 'signups',
      rules: [
        { rule: 'required', columns: ['email'] },
        { rule: 'regex', column: 'email', pattern: '^[a-z]+@[a-z]+\\.[a-z]+$' },
        { rule: 'range', column: 'age', min: 0, max: 120 },
        { rule: 'allowed', column: 'plan', values: ['free', 'pro'] },
      ],
    });
    expect(result).toEqual({
      rowsIn: 8,
      changed: 0,
      rejected: 6,
      deduplicated: 0,
      rowsOut: 2,
      rejectedByRule: { '0:required': 2, '1:regex': 1, '2:range': 2, '3:allowed': 1 },
    });
    // A null passes range (required is the rule for missing values).
    expect(await sql('select id from signups order by id')).toEqual([{ id: 1 }, { id: 8 }]);
    const owner = { dag_id: 'operator_test', run_id: 'manual__2026-01-01T00:00:00+00:00', task_id: 'task' };
    expect(await quarantined('signups_quarantine')).toEqual([
      {
        ...owner,
        rule: '0:required',
        column_name: 'email',
        reason: 'value is null',
        row: { id: 2, email: null, age: 40, plan: 'pro' },
      },
      {
        ...owner,
        rule: '0:required',
        column_name: 'email',
        reason: 'value is blank',
        row: { id: 3, email: '   ', age: 20, plan: 'free' },
      },
      {
        ...owner,
        rule: '1:regex',
        column_name: 'email',
        reason: "'not-an-email' does not match the pattern ^[a-z]+@[a-z]+\\.[a-z]+$",
        row: { id: 4, email: 'not-an-email', age: 25, plan: 'pro' },
      },
      {
        ...owner,
        rule: '2:range',
        column_name: 'age',
        reason: '150 is above the maximum 120',
        row: { id: 5, email: 'b@x.org', age: 150, plan: 'pro' },
      },
      {
        ...owner,
        rule: '2:range',
        column_name: 'age',
        reason: '-1 is below the minimum 0',
        row: { id: 6, email: 'c@x.org', age: -1, plan: 'free' },
      },
      {
        ...owner,
        rule: '3:allowed',
        column_name: 'plan',
        reason: "'gold' is not one of the allowed values (free, pro)",
        row: { id: 7, email: 'd@x.org', age: 33, plan: 'gold' },
      },
    ]);
    expect(h.logs).toContain('info: rules[2] range age: 2 rejected');
  });

  it('casts columns, quarantining values that do not convert instead of failing, and later rules compare in the new type', async () => {
    await sql(`create table payments (id int, amount text, paid text, due text);
      insert into payments values
        (1, '10', 'yes', '2026-01-05'), (2, ' 9.50', 'no', '2026-1-6'), (3, 'abc', 'true', '2026-01-07'),
        (4, null, 'maybe', null), (5, '1e3', 'f', 'not a date'), (6, '12.5', 't', '2026-01-08')`);
    const h = harness();
    const config: Omit<CleanseConfig, 'conn'> = {
      table: 'payments',
      rules: [
        { rule: 'cast', column: 'amount', to: 'numeric' },
        { rule: 'cast', column: 'paid', to: 'boolean' },
        { rule: 'cast', column: 'due', to: 'date' },
        // As text, '10' < '9.6' and row 1 would go; as numeric it stays.
        { rule: 'range', column: 'amount', min: 9.6 },
      ],
    };
    const result = await run(h, config);
    expect(result).toEqual({
      rowsIn: 6,
      // 'yes' became true and 't' became true; row 2 changed too, but range rejected it.
      changed: 2,
      rejected: 4,
      deduplicated: 0,
      rowsOut: 2,
      rejectedByRule: { '0:cast': 1, '1:cast': 1, '2:cast': 1, '3:range': 1 },
    });
    const types = await sql(
      "select column_name, data_type from information_schema.columns where table_name = 'payments' order by ordinal_position",
    );
    expect(types.map((t) => t.data_type)).toEqual(['integer', 'numeric', 'boolean', 'date']);
    expect(await sql('select id, amount, paid, due::text from payments order by id')).toEqual([
      { id: 1, amount: '10', paid: true, due: '2026-01-05' },
      { id: 6, amount: '12.5', paid: true, due: '2026-01-08' },
    ]);
    expect((await quarantined('payments_quarantine')).map((q) => [q.rule, q.column_name, q.reason, q.row.id])).toEqual([
      ['3:range', 'amount', '9.50 is below the minimum 9.6', 2],
      ['0:cast', 'amount', "cannot cast 'abc' to numeric", 3],
      ['1:cast', 'paid', "cannot cast 'maybe' to boolean", 4],
      ['2:cast', 'due', "cannot cast 'not a date' to date", 5],
    ]);
    expect(h.logs).toContain('info: rules[0] cast amount to numeric: 1 rejected, 2 changed');

    // The columns have their types now: a second run converts nothing.
    expect(await run(h, config)).toEqual({
      rowsIn: 2,
      changed: 0,
      rejected: 0,
      deduplicated: 0,
      rowsOut: 2,
      rejectedByRule: {},
    });
    expect(h.logs).toContain('info: rules[0] cast amount to numeric: nothing to do, the column has the type already');
  });

  it('dedupe keeps the latest row per key, among the rows not rejected, and counts the others without quarantining them', async () => {
    await sql(`create table customers (id int, customer text, updated_at timestamptz, note text);
      insert into customers values
        (1, 'a', '2026-01-01', 'old'), (2, 'a', '2026-01-03', 'newest'), (3, 'a', '2026-01-02', 'middle'),
        (4, 'b', null, 'no time'), (5, 'b', '2026-01-01', 'dated'),
        (6, 'c', '2026-01-01', 'first tie'), (7, 'c', '2026-01-01', 'last tie'),
        (8, 'd', '2026-01-05', 'BAD'), (9, 'd', '2026-01-01', 'kept')`);
    const h = harness();
    const result = await run(h, {
      table: 'customers',
      rules: [
        { rule: 'regex', column: 'note', pattern: '^[a-z ]+$' },
        { rule: 'dedupe', key: ['customer'], keepLatestBy: 'updated_at' },
      ],
    });
    expect(result).toEqual({
      rowsIn: 9,
      changed: 0,
      rejected: 1,
      deduplicated: 4,
      rowsOut: 4,
      rejectedByRule: { '0:regex': 1 },
    });
    // A null time counts as the oldest; a tie goes to the row read last; a rejected row takes no part.
    expect(await sql('select id, note from customers order by id')).toEqual([
      { id: 2, note: 'newest' },
      { id: 5, note: 'dated' },
      { id: 7, note: 'last tie' },
      { id: 9, note: 'kept' },
    ]);
    expect((await quarantined('customers_quarantine')).map((q) => q.rule)).toEqual(['0:regex']);
    expect(h.logs).toContain('info: rules[1] dedupe by customer keeping the latest updated_at: 4 deduplicated');
  });

  it('with into, fills another table (created with the cleansed types) and leaves the source alone; a re-run replaces both', async () => {
    await sql(`create schema audit;
      create table items (id int, name text, qty text);
      insert into items values (1, ' x ', '5'), (2, 'y', 'bad'), (3, 'z', '7')`);
    const h = harness();
    const config: Omit<CleanseConfig, 'conn'> = {
      table: 'items',
      into: 'items_clean',
      quarantine: 'audit.item_rejects',
      rules: [
        { rule: 'trim', columns: ['name'] },
        { rule: 'cast', column: 'qty', to: 'integer' },
      ],
    };
    const expected = {
      rowsIn: 3,
      changed: 1,
      rejected: 1,
      deduplicated: 0,
      rowsOut: 2,
      rejectedByRule: { '1:cast': 1 },
    };
    expect(await run(h, config)).toEqual(expected);
    expect(await sql('select * from items order by id')).toEqual([
      { id: 1, name: ' x ', qty: '5' },
      { id: 2, name: 'y', qty: 'bad' },
      { id: 3, name: 'z', qty: '7' },
    ]);
    expect(await sql('select * from items_clean order by id')).toEqual([
      { id: 1, name: 'x', qty: 5 },
      { id: 3, name: 'z', qty: 7 },
    ]);
    expect(await quarantined('audit.item_rejects')).toHaveLength(1);
    expect(await exists('items_quarantine')).toBe(false);

    // Same run again (a retry): the same result, into replaced rather than appended to, the quarantine not doubled.
    expect(await run(h, config)).toEqual(expected);
    expect(await sql('select count(*)::int as n from items_clean')).toEqual([{ n: 2 }]);
    expect(await quarantined('audit.item_rejects')).toHaveLength(1);

    // Another run keeps its own quarantine rows.
    await run(h, config, { runId: 'scheduled__2026-01-02T00:00:00+00:00' });
    expect((await quarantined('audit.item_rejects')).map((q) => q.run_id)).toEqual([
      'manual__2026-01-01T00:00:00+00:00',
      'scheduled__2026-01-02T00:00:00+00:00',
    ]);
  });

  it('a second run on cleansed data changes nothing and adds nothing to the quarantine', async () => {
    await sql(`create table orders (id int, email text, amount text, status text, updated_at timestamptz);
      insert into orders values
        (1, ' Ann@X.org ', '10.5', 'n/a', '2026-01-01'), (1, 'ann@x.org', '11', 'paid', '2026-01-02'),
        (2, 'bob@x.org', 'oops', 'paid', '2026-01-01'), (3, null, '3', 'paid', '2026-01-01'),
        (4, 'cy@x.org', '2000', 'paid', '2026-01-01'), (5, 'di@x.org', '7', 'lost', '2026-01-01'), (6, 'ed@x.org', '8', '', '2026-01-01')`);
    const h = harness();
    const config: Omit<CleanseConfig, 'conn'> = {
      table: 'orders',
      rules: [
        { rule: 'trim', columns: ['email'] },
        { rule: 'lower', columns: ['email'] },
        { rule: 'nullIf', column: 'status', values: ['', 'n/a'] },
        { rule: 'default', column: 'status', value: 'new' },
        { rule: 'cast', column: 'amount', to: 'numeric' },
        { rule: 'required', columns: ['email'] },
        { rule: 'regex', column: 'email', pattern: '^[a-z]+@[a-z]+\\.[a-z]+$' },
        { rule: 'range', column: 'amount', min: 0, max: 1000 },
        { rule: 'allowed', column: 'status', values: ['new', 'paid'] },
        { rule: 'dedupe', key: ['id'], keepLatestBy: 'updated_at' },
      ],
    };
    expect(await run(h, config)).toEqual({
      rowsIn: 7,
      changed: 1,
      rejected: 4,
      deduplicated: 1,
      rowsOut: 2,
      rejectedByRule: { '4:cast': 1, '5:required': 1, '7:range': 1, '8:allowed': 1 },
    });
    const clean = await sql('select * from orders order by id');
    expect(clean.map((r) => [r.id, r.email, r.amount, r.status])).toEqual([
      [1, 'ann@x.org', '11', 'paid'],
      [6, 'ed@x.org', '8', 'new'],
    ]);

    // The same run again, as a retry after a try that committed would: nothing to do, and
    // the rows the first try quarantined (now only there) are kept, not doubled.
    expect(await run(h, config)).toEqual({
      rowsIn: 2,
      changed: 0,
      rejected: 0,
      deduplicated: 0,
      rowsOut: 2,
      rejectedByRule: {},
    });
    expect(await sql('select * from orders order by id')).toEqual(clean);
    expect(await quarantined('orders_quarantine')).toHaveLength(4);
  });

  it('a rule naming a missing column fails the task naming the rule and the column, and writes nothing', async () => {
    await sql(`create table contacts (id int, email text, qty int);
      insert into contacts values (1, ' a@x.org ', 1)`);
    const h = harness();
    const attempt = (rules: CleanseConfig['rules']) => run(h, { table: 'contacts', rules });

    await expect(
      attempt([
        { rule: 'trim', columns: ['email'] },
        { rule: 'regex', column: 'emial', pattern: '^x' },
      ]),
    ).rejects.toMatchObject({
      name: 'OperatorError',
      field: 'rules[1]',
      message:
        "cleanse rules[1]: regex names column 'emial', which table contacts does not have (its columns: id, email, qty)",
      retryable: false,
    });
    await expect(attempt([{ rule: 'dedupe', key: ['id'], keepLatestBy: 'updated_at' }])).rejects.toThrow(
      "cleanse rules[0]: dedupe names column 'updated_at'",
    );
    // A string function on a number is a mistake in the DAG, not something to guess at.
    await expect(attempt([{ rule: 'trim', columns: ['qty'] }])).rejects.toThrow(
      "cleanse rules[0]: trim works on text, and column 'qty' of table contacts is integer (cast it to text first)",
    );
    await expect(run(h, { table: 'nosuch', rules: [{ rule: 'trim', columns: ['x'] }] })).rejects.toMatchObject({
      field: 'table',
      message: 'cleanse table: table nosuch does not exist',
    });

    expect(await sql('select * from contacts')).toEqual([{ id: 1, email: ' a@x.org ', qty: 1 }]);
    expect(await exists('contacts_quarantine')).toBe(false);
  });

  it('a failure while writing leaves the table, the into table and the quarantine as they were', async () => {
    await sql(`create table readings (id int, value text);
      insert into readings values (1, '5'), (2, 'bad')`);
    const h = harness();
    const config: Omit<CleanseConfig, 'conn'> = {
      table: 'readings',
      into: 'readings_clean',
      rules: [{ rule: 'cast', column: 'value', to: 'integer' }],
    };
    await run(h, config);
    const before = await quarantined('readings_quarantine');
    expect(before).toHaveLength(1);

    // into now has a column the cleansed integers cannot go into; the source has a new bad row.
    await sql(`drop table readings_clean;
      create table readings_clean (id int, value date);
      insert into readings_clean values (99, '2020-01-01');
      insert into readings values (3, 'worse')`);
    await expect(run(h, config)).rejects.toMatchObject({
      name: 'OperatorError',
      field: 'into',
      message: expect.stringContaining('column "value" is of type date but expression is of type integer'),
    });

    expect(await sql('select id, value::text from readings_clean')).toEqual([{ id: 99, value: '2020-01-01' }]);
    // Written (this run's rows replaced) before the failure, then rolled back with it.
    expect(await quarantined('readings_quarantine')).toEqual(before);
    expect(await sql('select * from readings order by id')).toEqual([
      { id: 1, value: '5' },
      { id: 2, value: 'bad' },
      { id: 3, value: 'worse' },
    ]);
  });

  it('binds values with quotes, backslashes and placeholders, and quotes odd table and column names', async () => {
    // A column named t, like the working table's alias for the row, must not stand in for the row.
    await sql(`create table "it's ""odd""" (id int, "customer's ""name""" text, note text, t text);
      insert into "it's ""odd""" values (1, 'Ann', 'it''s', null), (2, E'B\\\\ob', 'plain', 'tee'), (3, 'Cy', '%s and $1', null), (4, 'Di', E'back\\\\slash', null)`);
    const h = harness();
    const result = await run(h, {
      table: `it's "odd"`,
      rules: [
        { rule: 'nullIf', column: 'note', values: ["it's"] },
        { rule: 'default', column: 'note', value: "'; drop table x; --" },
        { rule: 'regex', column: `customer's "name"`, pattern: '^[^\\\\]*$' },
        { rule: 'allowed', column: 'note', values: ['%s and $1', "'; drop table x; --", 'plain'] },
      ],
    });
    expect(result).toEqual({
      rowsIn: 4,
      changed: 1,
      rejected: 2,
      deduplicated: 0,
      rowsOut: 2,
      rejectedByRule: { '2:regex': 1, '3:allowed': 1 },
    });
    expect(await sql(`select id, note from "it's ""odd""" order by id`)).toEqual([
      { id: 1, note: "'; drop table x; --" },
      { id: 3, note: '%s and $1' },
    ]);
    const rejects = await quarantined(`"it's ""odd""_quarantine"`);
    expect(rejects[0]!.row).toEqual({ id: 2, 'customer\'s "name"': 'B\\ob', note: 'plain', t: 'tee' });
    expect(rejects.map((q) => [q.column_name, q.reason])).toEqual([
      [`customer's "name"`, "'B\\ob' does not match the pattern ^[^\\\\]*$"],
      ['note', "'back\\slash' is not one of the allowed values (%s and $1, '; drop table x; --, plain)"],
    ]);
  });

  it("the task's abort cancels the statement on the server and leaves the table as it was", async () => {
    await sql("create table events (id int, kind text); insert into events values (1, ' a ')");
    // Another session holds the table, so the cleanse waits inside its transaction.
    const blocker = new pg.Client({ connectionString: dbs.url('wh') });
    await blocker.connect();
    try {
      await blocker.query('begin; lock table events in access exclusive mode');
      const abort = new AbortController();
      const h = harness();
      const running = run(h, { table: 'events', rules: [{ rule: 'trim', columns: ['kind'] }] }, { abort });
      const waiting = async () =>
        (
          await blocker.query(
            "select count(*)::int as n from pg_locks where relation = 'events'::regclass and not granted",
          )
        ).rows[0].n > 0;
      while (!(await waiting()));
      abort.abort();
      await expect(running).rejects.toMatchObject({ name: 'AbortError' });
      expect(await waiting()).toBe(false);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }
    expect(await sql('select * from events')).toEqual([{ id: 1, kind: ' a ' }]);
  });
});
