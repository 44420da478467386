/**
 * vitest globalSetup of the `pglite` project: one migrated PGlite database, dumped to a
 * tar file that every test file loads (~0.5 s) instead of creating its own (5-8 s).
 * The dump is cached under node_modules/.cache, keyed by the migrations and the PGlite
 * and drizzle versions, so that only the first run after a schema change pays for initdb.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';
import { MIGRATIONS_FOLDER, migratePglite } from '../../src/db/migrate.js';
import './provided.js';

const CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/updraft-test/', import.meta.url));
const PREFIX = 'pglite-template-';

export default async function setup(project: TestProject): Promise<void> {
  const file = path.join(CACHE_DIR, `${PREFIX}${await templateKey()}.tar`);
  if (!(await exists(file))) await buildTemplate(file);
  project.provide('pgliteTemplate', file);
}

async function buildTemplate(file: string): Promise<void> {
  const pglite = await PGlite.create();
  try {
    await migratePglite(pglite);
    const dump = await pglite.dumpDataDir('none'); // gzip would halve nothing but add ~0.6 s per load
    await mkdir(CACHE_DIR, { recursive: true });
    // Other runs may build the same template at the same time: write aside, rename into place.
    const partial = `${file}.${process.pid}.partial`;
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await rename(partial, file);
  } finally {
    await pglite.close();
  }
  // Templates of older schemas are dead weight (40 MB each). Keep the recent ones: another
  // run, started before the schema changed, may still be loading one.
  for (const name of await readdir(CACHE_DIR)) {
    const other = path.join(CACHE_DIR, name);
    if (!name.startsWith(PREFIX) || other === file) continue;
    const age = Date.now() - (await stat(other)).mtimeMs;
    if (age > 60 * 60 * 1000) await rm(other, { force: true });
  }
}

async function templateKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const pkg of ['@electric-sql/pglite', 'drizzle-orm']) {
    // Not require('<pkg>/package.json'): PGlite's exports map does not expose it.
    const manifest = fileURLToPath(new URL(`../../node_modules/${pkg}/package.json`, import.meta.url));
    hash.update(`${pkg}@${(JSON.parse(await readFile(manifest, 'utf8')) as { version: string }).version}\n`);
  }
  const files = (await readdir(MIGRATIONS_FOLDER, { recursive: true })).sort();
  for (const name of files) {
    const full = path.join(MIGRATIONS_FOLDER, name);
    if ((await stat(full)).isFile()) hash.update(name).update(await readFile(full));
  }
  return hash.digest('hex').slice(0, 16);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
