import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A temporary DAGs folder for one test file; `write` adds or changes a DAG file in it. */
export interface DagFolder {
  path: string;
  write(name: string, source: string): Promise<string>;
  remove(name: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A fresh temporary DAGs folder holding `files` (name in the folder: source), written in their order. */
export async function makeDagFolder(files: Record<string, string> = {}): Promise<DagFolder> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'updraft-dags-'));
  // ESM, as the repository's own dags/ is: `import { dag } from 'updraft'` and top-level await work.
  await writeFile(path.join(root, 'package.json'), '{ "type": "module" }\n');
  const folder: DagFolder = {
    path: root,
    async write(name, source) {
      const file = path.join(root, name);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, source);
      return file;
    },
    async remove(name) {
      await unlink(path.join(root, name));
    },
    async cleanup() {
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    for (const [name, source] of Object.entries(files)) await folder.write(name, source);
  } catch (error) {
    await folder.cleanup();
    throw error;
  }
  return folder;
}

/** Source of a small valid DAG file. */
export function simpleDag(id: string, extra = ''): string {
  return `import { dag } from 'updraft';
export default dag({ id: '${id}', schedule: '@daily', startDate: '2026-01-01', tags: ['t'] }, (t) => {
  const a = t.task('a', async () => 1);
  const b = t.task('b', async () => 2);
  a.then(b);${extra}
});
`;
}
