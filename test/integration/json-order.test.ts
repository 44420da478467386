/**
 * An upstream result handed on from memory (src/executor/inputs.ts) must read as the
 * one stored in jsonb would: same values, same key order, on both drivers.
 */
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { execute } from '../../src/db/execute.js';
import { asStoredJson } from '../../src/util/json-result.js';
import { testDatabase } from '../support/db.js';

let database: Database;

beforeAll(async () => {
  database = await testDatabase();
});

const VALUES: unknown[] = [
  { zeta: 1, b: 2, a: 3, aa: 4, é: 5, e: 6, Z: 7, '': 8, '10': 9, '9': 10 },
  { nested: { y: [{ d: 1, c: { bb: 2, a: null } }], x: 'text' }, list: [3, 1.5, -0, 1e21, true, null, 'ü'] },
  [{ b: 1, a: 2 }, 'x', 0],
  'plain text',
  42,
  null,
  { skipped: undefined, kept: 1 },
];

describe('a result as jsonb hands it back', () => {
  it.each(VALUES.map((value) => [JSON.stringify(value) ?? String(value), value]))('%s', async (_, value) => {
    const { rows } = await execute<{ v: unknown }>(database.db, sql`select ${JSON.stringify(value)}::jsonb as v`);
    const stored = rows[0]!.v;
    expect(JSON.stringify(asStoredJson(value))).toBe(JSON.stringify(stored));
    expect(asStoredJson(value)).toEqual(stored);
  });
});
