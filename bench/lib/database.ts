import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/client.js';
import { quoteIdent } from '../../src/db/quote.js';

export type BenchDriver = 'pglite' | 'postgres';

/** The driver a bench runs on: BENCH_DRIVER, default pglite. */
export function benchDriver(): BenchDriver {
  const driver = process.env.BENCH_DRIVER ?? 'pglite';
  if (driver !== 'pglite' && driver !== 'postgres')
    throw new Error(`BENCH_DRIVER must be pglite or postgres, got '${driver}'`);
  return driver;
}

/** Admin URL for the postgres driver: BENCH_ADMIN_URL, TEST_DATABASE_URL, or the local server. */
function adminUrl(): string {
  return process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export interface BenchDatabase {
  database: Database;
  /** What a child process needs to reach the same database. */
  env: Record<string, string>;
  /** PostgreSQL's version and the settings that matter for these figures, or PGlite's. */
  describe(): Promise<string>;
  dispose(): Promise<void>;
}

/** A fresh, migrated database for one bench: a new PostgreSQL database (dropped after) or a temporary PGlite. */
export async function benchDatabase(driver = benchDriver()): Promise<BenchDatabase> {
  if (driver === 'pglite') {
    const home = await mkdtemp(path.join(os.tmpdir(), 'updraft-bench-'));
    const database = await openDatabase({ home });
    return {
      database,
      env: { UPDRAFT_HOME: home, DATABASE_URL: '' },
      describe: async () =>
        `PGlite ${(await database.pglite!.query<{ v: string }>('select version() as v')).rows[0]!.v.split(' ').slice(0, 2).join(' ')} (in-process WASM, on disk)`,
      dispose: async () => {
        await database.close();
        await rm(home, { recursive: true, force: true });
      },
    };
  }
  const name = `updraft_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`create database ${quoteIdent(name)}`);
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), home: '' });
  return {
    database,
    env: { DATABASE_URL: url.toString() },
    describe: async () => {
      const { rows } = await admin.query<{ name: string; setting: string }>(
        `select name, setting from pg_settings where name in ('server_version', 'shared_buffers', 'synchronous_commit', 'fsync', 'max_connections') order by name`,
      );
      return `PostgreSQL ${rows.map((r) => `${r.name}=${r.setting}`).join(' ')}`;
    },
    dispose: async () => {
      await database.close();
      // pg's pool.end() resolves before its connections have closed; dropping at once would
      // terminate them and each would report it as a connection error. Wait up to 2 s.
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where datname = $1',
          [name],
        );
        if (rows[0]!.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`);
      await admin.end();
    },
  };
}
