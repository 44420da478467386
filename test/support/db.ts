/**
 * A fresh, migrated database per test file, on the driver the vitest project picked
 * (UPDRAFT_TEST_DRIVER: 'pglite', the default, or 'postgres' with TEST_DATABASE_URL).
 * Cleanup is automatic: setup-db.ts (a vitest setupFile) closes and drops everything
 * this module opened once the file's tests are done.
 *
 *   let database: Database;
 *   beforeAll(async () => { database = await testDatabase(); });
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { inject } from 'vitest';
import { type Database, embeddedDataDir, openDatabase, pgliteDatabase } from '../../src/db/client.js';
import { createDatabase, dropDatabase, testDatabaseName, urlFor } from './postgres-admin.js';
import './provided.js';

export type TestDriver = 'pglite' | 'postgres';

export interface TestDatabase extends Database {
  /** PostgreSQL only: the URL of this database, e.g. to let a child process share it live. */
  url?: string;
}

/** A database for a child process (a CLI run), that the test can open afterwards to check. */
export interface ChildDatabase {
  /**
   * Environment to merge into the child's: UPDRAFT_HOME (a fresh temp folder) and DATABASE_URL
   * (the database's URL on PostgreSQL; empty on PGlite, so that the child uses the embedded one).
   */
  env: { UPDRAFT_HOME: string; DATABASE_URL: string };
  /**
   * Open the child's database from the test. On PGlite the child owns the database (one
   * process at a time), so call this after the child exited and close it before the next child.
   */
  open(): Promise<Database>;
}

export function testDriver(): TestDriver {
  const driver = process.env.UPDRAFT_TEST_DRIVER ?? 'pglite';
  if (driver !== 'pglite' && driver !== 'postgres') {
    throw new Error(`UPDRAFT_TEST_DRIVER must be 'pglite' or 'postgres', not '${driver}'`);
  }
  return driver;
}

const cleanups: Array<() => Promise<void>> = [];

/** Runs and forgets every registered cleanup, latest first. Called by setup-db.ts after each file. */
export async function cleanupTestDatabases(): Promise<void> {
  const errors: unknown[] = [];
  for (let fn = cleanups.pop(); fn; fn = cleanups.pop()) {
    await fn().catch((err: unknown) => errors.push(err));
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'several test databases failed to clean up');
}

/** A fresh migrated database of its own for the calling test file. */
export async function testDatabase(): Promise<TestDatabase> {
  if (testDriver() === 'pglite') {
    const database = pgliteDatabase(await PGlite.create({ loadDataDir: await pgliteTemplate() }));
    cleanups.push(() => database.close());
    return database;
  }
  const name = await copyPostgresTemplate();
  const url = urlFor(name);
  const database = await openDatabase({ databaseUrl: url, home: '', migrate: false });
  cleanups.push(async () => {
    await database.close();
    await dropDatabase(name);
  });
  return Object.assign(database, { url });
}

/** A fresh migrated database and Updraft home for a child process; see ChildDatabase. */
export async function testChildDatabase(): Promise<ChildDatabase> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'updraft-home-'));
  cleanups.push(() => rm(home, { recursive: true, force: true }));
  if (testDriver() === 'pglite') {
    // Seed <home>/db from the template so that the child opens a database (~0.5 s)
    // instead of creating one (5-8 s); its migrate step then finds nothing to do.
    const seed = await PGlite.create({ dataDir: embeddedDataDir(home), loadDataDir: await pgliteTemplate() });
    await seed.close();
    return {
      env: { UPDRAFT_HOME: home, DATABASE_URL: '' },
      open: () => track(openDatabase({ home, migrate: false })),
    };
  }
  const name = await copyPostgresTemplate();
  cleanups.push(() => dropDatabase(name));
  const url = urlFor(name);
  return {
    env: { UPDRAFT_HOME: home, DATABASE_URL: url },
    open: () => track(openDatabase({ databaseUrl: url, home, migrate: false })),
  };
}

async function track(opening: Promise<Database>): Promise<Database> {
  const database = await opening;
  cleanups.push(() => database.close());
  return database;
}

async function pgliteTemplate(): Promise<Blob> {
  return new Blob([await readFile(inject('pgliteTemplate'))]);
}

async function copyPostgresTemplate(): Promise<string> {
  const name = testDatabaseName();
  await createDatabase(name, inject('postgresTemplate'));
  return name;
}
