import path from 'node:path';
import { and, desc, eq, inArray, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import type { Tx } from '../db/execute.js';
import { dags, dagVersions, importErrors } from '../db/schema.js';
import { versionHash, type SerializedDag } from '../dag/serialize.js';
import { storeDatasetRefs } from './dataset-refs.js';
import type { ParseFailure } from './outcome.js';
import type { ParsedFile } from './parse.js';

export interface StoreOptions {
  dagsFolder: string;
  pausedAtCreation: boolean;
  /** Every DAG file that exists now (absolute paths); DAGs of other files become inactive. */
  presentFiles: readonly string[];
  now?: Date;
}

export interface FileReport {
  /** Relative to the DAGs folder. */
  file: string;
  dagIds: string[];
  error: ParseFailure | null;
  /** DAG ids that got a new stored version. */
  newVersions: string[];
}

/**
 * Stores what parsing found: DAG rows, a new version where the hash changed, import
 * errors per file. DAGs whose file is gone, or no longer defines them, become
 * inactive with their history kept. Each file is stored in one transaction.
 */
export async function storeParsedFiles(
  db: Db,
  parsed: readonly ParsedFile[],
  options: StoreOptions,
): Promise<FileReport[]> {
  const rel = (file: string) => path.relative(options.dagsFolder, file);
  const present = options.presentFiles.map(rel);
  await deactivateMissingFiles(db, present);

  // Who defines which id: an active DAG whose file still exists keeps its id.
  const owners = new Map<string, string>();
  const ids = parsed.flatMap((p) => (p.outcome.ok ? p.outcome.dags.map((d) => d.dagId) : []));
  if (ids.length > 0) {
    const rows = await db
      .select({ dagId: dags.dagId, file: dags.file })
      .from(dags)
      .where(and(inArray(dags.dagId, ids), eq(dags.isActive, true)));
    for (const row of rows) if (present.includes(row.file)) owners.set(row.dagId, row.file);
  }

  const reports: FileReport[] = [];
  for (const p of [...parsed].sort((a, b) => a.file.localeCompare(b.file))) {
    const file = rel(p.file);
    if (!p.outcome.ok) {
      await recordImportError(db, file, p.outcome.error);
      reports.push({ file, dagIds: [], error: p.outcome.error, newVersions: [] });
      continue;
    }
    const mine: SerializedDag[] = [];
    const clashes: string[] = [];
    for (const d of p.outcome.dags) {
      const owner = owners.get(d.dagId);
      if (owner !== undefined && owner !== file) clashes.push(`DAG id '${d.dagId}' is already defined in ${owner}`);
      else {
        owners.set(d.dagId, file);
        mine.push(d);
      }
    }
    const newVersions = await db.transaction(async (tx) => {
      const stored: string[] = [];
      for (const d of mine) if (await storeDag(tx, file, d, p.source, options)) stored.push(d.dagId);
      // DAGs this file used to define and no longer does.
      await tx
        .update(dags)
        .set({ isActive: false })
        .where(
          and(
            eq(dags.file, file),
            eq(dags.isActive, true),
            mine.length > 0
              ? notInArray(
                  dags.dagId,
                  mine.map((d) => d.dagId),
                )
              : undefined,
          ),
        );
      return stored;
    });
    const error = clashes.length > 0 ? { message: clashes.join('; '), line: null, column: null } : null;
    if (error) await recordImportError(db, file, error);
    else await db.delete(importErrors).where(eq(importErrors.file, file));
    reports.push({ file, dagIds: mine.map((d) => d.dagId), error, newVersions });
  }
  return reports;
}

/** Upserts the DAG row and stores a new version when the hash changed. True when it did. */
async function storeDag(
  tx: Tx,
  file: string,
  d: SerializedDag,
  source: string,
  options: StoreOptions,
): Promise<boolean> {
  const now = options.now ?? new Date();
  const fields = {
    file,
    isActive: true,
    schedule: d.schedule,
    timezone: d.timezone,
    description: d.description,
    tags: d.tags,
    owner: d.owner,
    maxActiveRuns: d.maxActiveRuns,
    maxActiveTasks: d.maxActiveTasks,
    datasetSchedule: d.datasetSchedule ?? null,
    lastParsedAt: now,
  };
  const [row] = await tx
    .insert(dags)
    .values({ dagId: d.dagId, isPaused: d.pausedAtCreation ?? options.pausedAtCreation, ...fields })
    .onConflictDoUpdate({ target: dags.dagId, set: fields })
    .returning({ id: dags.id });
  // Lock the DAG row: two processors parsing the same file agree on version numbers.
  await tx.execute(sql`select 1 from ${dags} where ${dags.id} = ${row!.id} for update`);
  const hash = versionHash(d, source);
  const [same] = await tx
    .select({ id: dagVersions.id })
    .from(dagVersions)
    .where(and(eq(dagVersions.dagId, row!.id), eq(dagVersions.hash, hash)));
  if (same) {
    // Unchanged, or reverted to an earlier version: point at the stored one.
    const moved = await tx
      .update(dags)
      .set({ latestVersionId: same.id })
      .where(and(eq(dags.id, row!.id), sql`${dags.latestVersionId} is distinct from ${same.id}`))
      .returning({ id: dags.id });
    if (moved.length > 0) await storeDatasetRefs(tx, row!.id, d);
    return moved.length > 0;
  }
  const [latest] = await tx
    .select({ version: dagVersions.version })
    .from(dagVersions)
    .where(eq(dagVersions.dagId, row!.id))
    .orderBy(desc(dagVersions.version))
    .limit(1);
  const [version] = await tx
    .insert(dagVersions)
    .values({ dagId: row!.id, version: (latest?.version ?? 0) + 1, hash, serialized: d, source })
    .returning({ id: dagVersions.id });
  await tx.update(dags).set({ latestVersionId: version!.id }).where(eq(dags.id, row!.id));
  await storeDatasetRefs(tx, row!.id, d);
  return true;
}

async function recordImportError(db: Db, file: string, error: ParseFailure): Promise<void> {
  const values = { file, message: error.message, line: error.line, column: error.column, createdAt: new Date() };
  await db.insert(importErrors).values(values).onConflictDoUpdate({ target: importErrors.file, set: values });
}

async function deactivateMissingFiles(db: Db, present: string[]): Promise<void> {
  const gone = present.length > 0 ? notInArray(dags.file, present) : undefined;
  await db
    .update(dags)
    .set({ isActive: false })
    .where(and(eq(dags.isActive, true), gone));
  await db.delete(importErrors).where(present.length > 0 ? notInArray(importErrors.file, present) : undefined);
}
