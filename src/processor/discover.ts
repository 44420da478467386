import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const DAG_FILE = /\.(?:ts|mts|js|mjs)$/;
const SKIPPED = /\.d\.(?:ts|mts)$|\.(?:test|spec)\.[mc]?[jt]s$/;

export interface DagFileStat {
  /** Absolute path. */
  file: string;
  mtimeMs: number;
  size: number;
}

/**
 * Every module under `folder` (subfolders included) that may define DAGs. Hidden
 * entries, node_modules, type declarations and test files are skipped.
 */
export async function discoverDagFiles(folder: string): Promise<DagFileStat[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const files: DagFileStat[] = [];
  for (const entry of entries) {
    if (!entry.isFile() || !DAG_FILE.test(entry.name) || SKIPPED.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    const relative = path.relative(folder, file);
    if (relative.split(path.sep).some((part) => part.startsWith('.') || part === 'node_modules')) continue;
    const info = await stat(file);
    files.push({ file, mtimeMs: info.mtimeMs, size: info.size });
  }
  return files.sort((a, b) => a.file.localeCompare(b.file));
}
