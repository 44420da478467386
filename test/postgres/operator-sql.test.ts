/** The sql operator against a real PostgreSQL, run the way a task thread runs it. */
import { describe, expect, it } from 'vitest';
import type { SqlConfig } from '../../src/dag/operators/sql.js';
import { sqlOperator } from '../../src/operators/sql/run.js';
import { OperatorError } from '../../src/operators/types.js';
import { operatorHarness, useScratchDatabases, type OperatorHarness } from '../support/operators.js';
import { unreachableDatabaseUrl } from '../support/cli.js';

const dbs = useScratchDatabases(['wh']);
const harness = () => operatorHarness({ wh: dbs.url('wh') }, 'sql');
const run = (h: OperatorHarness, config: SqlConfig, overrides = {}) =>
  sqlOperator.run(sqlOperator.schema.parse(config), h.context(overrides));

describe('sql operator', () => {
  it('binds values from the context as parameters and returns the row count and the first rows', async () => {
    const h = harness();
    await run(h, { conn: 'wh', sql: 'create table events (id int primary key, at timestamptz, note text)' });
    const inserted = await run(h, {
      conn: 'wh',
      // A quote in a value would break spliced SQL; bound, it is just data.
      sql: ({ interval }) => ({
        text: 'insert into events values (1, $1, $2), (2, $3, $2)',
        values: [interval.start, "it's bound'); drop table events; --", interval.end],
      }),
    });
    expect(inserted).toEqual({
      command: 'INSERT',
      rowCount: 2,
      rows: [],
      truncated: false,
      statements: [{ command: 'INSERT', rowCount: 2 }],
    });
    const selected = await run(h, { conn: 'wh', sql: 'select id, note from events order by id', maxRows: 1 });
    expect(selected).toMatchObject({
      command: 'SELECT',
      rowCount: 2,
      rows: [{ id: 1, note: "it's bound'); drop table events; --" }],
      truncated: true,
    });
    expect(h.logs).toContain('info: sql: SELECT 2');
  });

  it('runs several statements in one transaction: a failing one undoes the others and is named', async () => {
    const h = harness();
    await run(h, { conn: 'wh', sql: 'create table ledger (id int primary key)' });
    const failing = run(h, {
      conn: 'wh',
      sql: ['insert into ledger values (1)', 'insert into ledger values (2)', 'insert into ledger values (1)'],
    });
    await expect(failing).rejects.toThrow(OperatorError);
    await expect(failing).rejects.toThrow(
      /^sql sql\[2\]: duplicate key value violates unique constraint "ledger_pkey" \(Key \(id\)=\(1\) already exists\.\)/,
    );
    expect(await dbs.query('wh', 'select count(*)::int as n from ledger')).toEqual([{ n: 0 }]);
  });

  it('with transaction: false keeps what ran before the failure, and can run statements that refuse transactions', async () => {
    const h = harness();
    await run(h, { conn: 'wh', sql: 'create table notes (id int primary key)' });
    await expect(
      run(h, { conn: 'wh', transaction: false, sql: ['insert into notes values (1)', 'insert into notes values (1)'] }),
    ).rejects.toThrow(/^sql sql\[1\]: duplicate key/);
    expect(await dbs.query('wh', 'select id from notes')).toEqual([{ id: 1 }]);
    expect(await run(h, { conn: 'wh', transaction: false, sql: 'vacuum notes' })).toMatchObject({ command: 'VACUUM' });
  });

  it('names a missing table, a wrong type and a syntax error, and says a retry will not help', async () => {
    const h = harness();
    const missing = await run(h, { conn: 'wh', sql: 'select * from nowhere' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ message: 'sql sql: relation "nowhere" does not exist', retryable: false });
    await expect(run(h, { conn: 'wh', sql: { text: 'select $1::int', values: ['twelve'] } })).rejects.toThrow(
      'sql sql: invalid input syntax for type integer: "twelve"',
    );
    await expect(run(h, { conn: 'wh', sql: 'selec 1' })).rejects.toThrow('sql sql: syntax error at or near "selec"');
  });

  it('fails with the connection field named: unknown connection, unreachable server (retryable), password masked', async () => {
    await expect(run(harness(), { conn: 'nope', sql: 'select 1' })).rejects.toThrow(
      "sql conn: unknown connection 'nope'",
    );
    const url = (await unreachableDatabaseUrl()).replace('updraft@', 'updraft:pa55word@');
    const down = (await run(operatorHarness({ down: url }, 'sql'), { conn: 'down', sql: 'select 1' }).catch(
      (e: unknown) => e,
    )) as OperatorError;
    expect(down).toBeInstanceOf(OperatorError);
    expect(down.message).toMatch(
      /^sql conn: cannot reach connection 'down' \(postgres:\/\/updraft:\*\*\*@127\.0\.0\.1:\d+\/updraft\): .*ECONNREFUSED/,
    );
    expect(down.retryable).toBe(true);
  });

  it('cancels the running query on the server when the task is aborted', async () => {
    const h = harness();
    const abort = new AbortController();
    const running = run(h, { conn: 'wh', sql: "select pg_sleep(30), 'long'" }, { abort });
    // Abort once the server is running the query, not before.
    await waitFor(
      async () =>
        (
          await dbs.query(
            'wh',
            "select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(30)%' and state = 'active' and pid <> pg_backend_pid()",
          )
        )[0]!.n === 1,
    );
    abort.abort(new Error('timed out after 1s'));
    await expect(running).rejects.toThrow('timed out after 1s');
    await waitFor(
      async () =>
        (
          await dbs.query(
            'wh',
            "select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(30)%' and state = 'active' and pid <> pg_backend_pid()",
          )
        )[0]!.n === 0,
    );
  });

  it('checks the statements a function returns: a DAG mistake, not retried', async () => {
    const error = await run(harness(), { conn: 'wh', sql: () => ({ txt: 'select 1' }) as never }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      message: 'sql sql: expected SQL text or { text, values }, got an object with keys txt',
      retryable: false,
    });
  });

  it('runs text holding several statements, counting each', async () => {
    const result = await run(harness(), {
      conn: 'wh',
      sql: 'create table multi (id int); insert into multi values (1), (2); select * from multi',
    });
    expect(result).toMatchObject({
      command: 'SELECT',
      rowCount: 2,
      rows: [{ id: 1 }, { id: 2 }],
      statements: [
        { command: 'CREATE', rowCount: 0 },
        { command: 'INSERT', rowCount: 2 },
        { command: 'SELECT', rowCount: 2 },
      ],
    });
  });

  it('an abort between two statements stops before the next one and commits nothing', async () => {
    const h = harness();
    await run(h, { conn: 'wh', sql: 'create table steps (id int)' });
    const abort = new AbortController();
    // Aborted once the first statement is done, while the server is idle: there is no query to cancel.
    const log = {
      debug() {},
      warn() {},
      error() {},
      info: (message: string) => message.startsWith('sql[0]:') && abort.abort(new Error('cancelled: by a test')),
    };
    await expect(
      run(h, { conn: 'wh', sql: ['insert into steps values (1)', 'insert into steps values (2)'] }, { abort, log }),
    ).rejects.toThrow('cancelled: by a test');
    expect(await dbs.query('wh', 'select count(*)::int as n from steps')).toEqual([{ n: 0 }]);
  });
});

/** Polls a condition on the database (the server's own state has no event to await). */
async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
