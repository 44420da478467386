/**
 * Creating and dropping the PostgreSQL databases of a test run, through the admin URL
 * in TEST_DATABASE_URL. Every database a run makes is named `updraft_t_<time>_<random>`
 * so that a later run can recognise, and drop, what a killed run left behind.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { quoteIdent } from '../../src/db/quote.js';

export const TEST_DB_PREFIX = 'updraft_t_';

export function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url)
    throw new Error(
      'TEST_DATABASE_URL is not set: the postgres test project needs an admin URL, e.g. postgres://postgres@127.0.0.1:5432/postgres',
    );
  return url;
}

/** A fresh database name; its creation time (base 36 seconds) is part of the name. */
export function testDatabaseName(suffix = ''): string {
  const seconds = Math.floor(Date.now() / 1000).toString(36);
  return `${TEST_DB_PREFIX}${seconds}_${randomBytes(5).toString('hex')}${suffix}`;
}

/** The admin URL pointed at another database on the same server. */
export function urlFor(database: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(name: string, template?: string): Promise<void> {
  const from = template ? ` template ${quoteIdent(template)}` : '';
  await withAdmin((c) => c.query(`create database ${quoteIdent(name)}${from}`));
}

/** Drops `name`, ending any connection a test leaked so that a leak cannot fail the drop. */
export async function dropDatabase(name: string): Promise<void> {
  await withAdmin((c) => c.query(`drop database if exists ${quoteIdent(name)} with (force)`));
}

/**
 * Drop test databases older than `maxAgeMs` that a killed run left. Runs of other checkouts
 * may share the server, so anything younger, or still connected, is left alone.
 */
export async function dropStaleDatabases(maxAgeMs = 60 * 60 * 1000): Promise<string[]> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      `select datname from pg_database where starts_with(datname, $1) and not exists
         (select 1 from pg_stat_activity a where a.datname = pg_database.datname)`,
      [TEST_DB_PREFIX],
    );
    const dropped: string[] = [];
    for (const { datname } of rows) {
      const created = Number.parseInt(datname.slice(TEST_DB_PREFIX.length).split('_')[0] ?? '', 36) * 1000;
      if (!(Date.now() - created > maxAgeMs)) continue;
      try {
        await c.query(`drop database if exists ${quoteIdent(datname)}`);
        dropped.push(datname);
      } catch (err) {
        // 55006: someone connected since the query above; it is in use after all.
        if ((err as { code?: string }).code !== '55006') throw err;
      }
    }
    return dropped;
  });
}
