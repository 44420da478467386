import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SerializedDag } from '../dag/serialize.js';
import { NotFoundError, UpdraftError } from '../errors.js';
import { discoverDagFiles } from './discover.js';
import type { ParsedFile } from './parse.js';
import { assertFolder, parseDagFiles } from './processor.js';

export interface FoundDag {
  /** Absolute path of the file that defines the DAG. */
  file: string;
  source: string;
  serialized: SerializedDag;
}

/**
 * Finds the file of the DAGs folder that defines `dagId` and parses it, without the
 * database (`updraft tasks test`). Files whose source names the id are parsed first,
 * the rest only if none of them defines it (an id may be computed). Two parsed
 * files defining the id is an error, as `dags check` reports it.
 */
export async function findDagInFolder(folder: string, dagId: string, importTimeoutMs: number): Promise<FoundDag> {
  await assertFolder(folder);
  const files = (await discoverDagFiles(folder)).map((f) => f.file);
  const sources = await Promise.all(files.map((file) => readFile(file, 'utf8').catch(() => '')));
  const likely = files.filter((_, i) => sources[i]!.includes(dagId));
  let parsed = await parseDagFiles(likely, importTimeoutMs);
  let found = definitions(parsed, dagId);
  if (found.length === 0) {
    const rest = await parseDagFiles(
      files.filter((f) => !likely.includes(f)),
      importTimeoutMs,
    );
    parsed = [...parsed, ...rest];
    found = definitions(rest, dagId);
  }
  const shown = (file: string) => path.relative(folder, file);
  if (found.length > 1) {
    throw new UpdraftError(
      `DAG id '${dagId}' is defined in more than one file: ${found.map((f) => shown(f.file)).join(', ')}`,
    );
  }
  if (found.length === 0) {
    const broken = parsed.filter((p) => !p.outcome.ok).map((p) => shown(p.file));
    const hint =
      broken.length > 0
        ? `; ${broken.length} file(s) failed to load (${broken.join(', ')}): see 'updraft dags check'`
        : '';
    throw new NotFoundError(`no DAG with id '${dagId}' in ${folder}${hint}`);
  }
  return found[0]!;
}

function definitions(parsed: readonly ParsedFile[], dagId: string): FoundDag[] {
  return parsed.flatMap((p) =>
    p.outcome.ok
      ? p.outcome.dags
          .filter((d) => d.dagId === dagId)
          .map((serialized) => ({ file: p.file, source: p.source, serialized }))
      : [],
  );
}
