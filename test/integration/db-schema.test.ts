import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eq, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { pgErrorCode, SqlState } from '../../src/db/errors.js';
import { execute } from '../../src/db/execute.js';
import { MIGRATIONS_FOLDER, migrate } from '../../src/db/migrate.js';
import { dagRuns, dags, dagVersions, pools } from '../../src/db/schema.js';
import { type TestDatabase, testDatabase } from '../support/db.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

let database: TestDatabase;

beforeAll(async () => {
  database = await testDatabase();
});

async function addDag(dagId: string) {
  const [row] = await database.db
    .insert(dags)
    .values({ dagId, file: `${dagId}.ts`, isPaused: false, timezone: 'UTC' })
    .returning();
  return row!;
}

function scheduledRun(dagUuid: string, logicalDate: Date, runId: string) {
  const end = new Date(logicalDate.getTime() + 86_400_000);
  return {
    dagId: dagUuid,
    runId,
    runType: 'scheduled' as const,
    logicalDate,
    intervalStart: logicalDate,
    intervalEnd: end,
    runAfter: end,
  };
}

describe('database schema', () => {
  it('is migrated, with the default pool seeded, and migrating again changes nothing', async () => {
    await migrate(database);
    const rows = await database.db.select({ name: pools.name, slots: pools.slots }).from(pools);
    expect(rows).toEqual([{ name: 'default_pool', slots: 128 }]);
  });

  it('refuses a second run of a DAG for the same logical date (SQLSTATE 23505)', async () => {
    const dag = await addDag('unique_runs');
    const day = new Date('2026-01-01T00:00:00Z');
    const [first] = await database.db
      .insert(dagRuns)
      .values(scheduledRun(dag.id, day, 'scheduled__1'))
      .returning();
    expect(first).toMatchObject({ state: 'queued', conf: {}, logicalDate: day });

    const duplicate = await database.db
      .insert(dagRuns)
      .values(scheduledRun(dag.id, day, 'scheduled__2'))
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(duplicate).toBeInstanceOf(Error);
    expect(pgErrorCode(duplicate)).toBe(SqlState.uniqueViolation);

    // Other DAGs and other dates are free.
    const other = await addDag('unique_runs_other');
    await database.db.insert(dagRuns).values(scheduledRun(other.id, day, 'scheduled__1'));
    await database.db.insert(dagRuns).values(scheduledRun(dag.id, new Date('2026-01-02T00:00:00Z'), 'scheduled__3'));
  });

  it('refuses JSON of the wrong shape (SQLSTATE 23514)', async () => {
    const dag = await addDag('bad_conf');
    const err = await database.db
      .insert(dagRuns)
      .values({ ...scheduledRun(dag.id, new Date('2026-01-01T00:00:00Z'), 'manual__1'), conf: [1, 2] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(pgErrorCode(err)).toBe(SqlState.checkViolation);
  });

  it('deletes a DAG with its versions and runs, despite the dags <-> dag_versions cycle', async () => {
    const dag = await addDag('deleted');
    const [version] = await database.db
      .insert(dagVersions)
      .values({ dagId: dag.id, version: 1, hash: 'h1', serialized: { tasks: [] }, source: '' })
      .returning();
    await database.db.update(dags).set({ latestVersionId: version!.id }).where(eq(dags.id, dag.id));
    await database.db
      .insert(dagRuns)
      .values({ ...scheduledRun(dag.id, new Date('2026-01-01T00:00:00Z'), 'r'), dagVersionId: version!.id });
    await database.db.delete(dags).where(eq(dags.id, dag.id));
    expect(await database.db.select().from(dagVersions).where(eq(dagVersions.dagId, dag.id))).toEqual([]);
    expect(await database.db.select().from(dagRuns).where(eq(dagRuns.dagId, dag.id))).toEqual([]);
  });

  it('runs sessions in UTC and keeps timestamps as instants', async () => {
    const { rows } = await execute<{ TimeZone: string }>(database.db, sql`show timezone`);
    expect(rows[0]!.TimeZone).toBe('UTC');
    const dag = await addDag('instants');
    const at = new Date('2026-03-29T01:30:00.123Z');
    const [row] = await database.db
      .insert(dagRuns)
      .values(scheduledRun(dag.id, at, 'scheduled__x'))
      .returning();
    expect(row!.logicalDate.toISOString()).toBe(at.toISOString());
  });
});

describe('committed migrations', () => {
  // drizzle-kit diffs schema.ts against the latest snapshot in drizzle/meta. Run it on a copy:
  // if it would write a migration, someone changed the schema without `npm run db:generate`.
  it('match src/db/schema.ts', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'updraft-drift-'));
    try {
      await cp(MIGRATIONS_FOLDER, path.join(work, 'drizzle'), { recursive: true });
      const before = await readdir(path.join(work, 'drizzle'), { recursive: true });
      // drizzle-kit mangles an absolute --out, so run it inside the copy with relative paths.
      const schema = path.relative(work, path.join(repo, 'src/db/schema.ts'));
      const { stdout, stderr } = await run(
        path.join(repo, 'node_modules/.bin/drizzle-kit'),
        ['generate', '--dialect', 'postgresql', '--schema', schema, '--out', 'drizzle'],
        { cwd: work },
      );
      const after = await readdir(path.join(work, 'drizzle'), { recursive: true });
      const written = after.filter((f) => !before.includes(f));
      expect(written, `schema.ts and drizzle/ disagree; run \`npm run db:generate\`\n${stdout}${stderr}`).toEqual([]);
      // drizzle-kit exits 0 even when it fails; insist on its all-clear.
      expect(stdout, stderr).toContain('No schema changes');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
