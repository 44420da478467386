import path from 'node:path';
import type { Db } from '../db/client.js';
import { NotFoundError } from '../errors.js';
import { listImportErrors } from './dags.js';

/**
 * "No DAG with this id", with the import errors of the DAGs folder: the file that should
 * have defined the DAG may be one that failed to load, and only its error says why.
 * A file named after the DAG id comes first.
 */
export async function missingDagError(db: Db, dagId: string): Promise<NotFoundError> {
  const errors = await listImportErrors(db);
  const plain = `no DAG with id '${dagId}' (see 'updraft dags list')`;
  if (errors.length === 0) return new NotFoundError(plain);
  const named = (file: string) => path.basename(file).replace(/\.[^.]+$/, '') === dagId;
  const ordered = [...errors.filter((e) => named(e.file)), ...errors.filter((e) => !named(e.file))];
  const lines = ordered.map((e) => `  ${e.file}${e.line ? `:${e.line}:${e.column}` : ''}: ${e.message}`);
  const which = named(ordered[0]!.file)
    ? `${ordered[0]!.file} did not load`
    : `${errors.length} DAG file(s) failed to load, and one of them may define it`;
  return new NotFoundError(`no DAG with id '${dagId}': ${which}:\n${lines.join('\n')}`);
}
