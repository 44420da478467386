import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { quoteIdent } from '../../src/db/quote.js';
import { ConfigError } from '../../src/errors.js';
import { testDatabase } from '../support/db.js';

describe('openDatabase', () => {
  it('reports an unreachable PostgreSQL as a ConfigError without the password', async () => {
    const err = await openDatabase({ databaseUrl: 'postgres://me:s3cret@127.0.0.1:1/nowhere', home: '' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /^cannot connect to PostgreSQL at postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/nowhere: /,
    );
  });
});

describe('quoteIdent', () => {
  it('quotes each part of a dotted name', () => {
    expect(quoteIdent('staging.orders')).toBe('"staging"."orders"');
    expect(quoteIdent('Orders')).toBe('"Orders"');
  });

  it('takes parts as an array for names with dots or quotes, and they reach the right table', async () => {
    const { db } = await testDatabase();
    const table = quoteIdent(['public', 'odd "name".v2']);
    expect(table).toBe('"public"."odd ""name"".v2"');
    await execute(db, sql.raw(`create table ${table} (${quoteIdent('select')} int)`));
    await execute(db, sql`insert into ${sql.raw(table)} values (${42})`);
    const { rows } = await execute<{ select: number }>(db, sql.raw(`select * from ${table}`));
    expect(rows).toEqual([{ select: 42 }]);
  });

  it('refuses empty parts', () => {
    expect(() => quoteIdent('staging.')).toThrow(/invalid SQL identifier 'staging\.': empty part/);
    expect(() => quoteIdent('')).toThrow(/empty part/);
  });
});
