/**
 * vitest globalSetup of the `postgres` project: one migrated template database per run;
 * each test file copies it (CREATE DATABASE ... TEMPLATE), which is far quicker than
 * migrating a new database per file. Also drops databases that killed runs left behind.
 */
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.js';
import { createDatabase, dropDatabase, dropStaleDatabases, testDatabaseName, urlFor } from './postgres-admin.js';
import './provided.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await dropStaleDatabases();
  const template = testDatabaseName('_tpl');
  await createDatabase(template);
  try {
    const database = await openDatabase({ databaseUrl: urlFor(template), home: '', migrate: true, poolMax: 1 });
    await database.close();
  } catch (err) {
    await dropDatabase(template);
    throw err;
  }
  project.provide('postgresTemplate', template);
  return () => dropDatabase(template);
}
