import { once } from 'node:events';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { dags, dagVersions, importErrors } from '../../src/db/schema.js';
import { DagProcessor, type ProcessorConfig } from '../../src/processor/processor.js';
import { makeDagFolder, simpleDag, type DagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';

let database: Database;
let folder: DagFolder;

beforeAll(async () => {
  database = await testDatabase();
});

beforeEach(async () => {
  await folder?.cleanup();
  folder = await makeDagFolder();
  // Each test starts from an empty catalogue.
  await database.db.delete(importErrors);
  await database.db.delete(dags);
});

afterAll(async () => {
  await folder?.cleanup();
});

function processor(overrides: Partial<ProcessorConfig> = {}): DagProcessor {
  return new DagProcessor(database.db, {
    dagsFolder: folder.path,
    pausedAtCreation: true,
    importTimeoutMs: 10_000,
    dagsPollMs: 50,
    ...overrides,
  });
}

async function versionsOf(dagId: string) {
  return database.db
    .select({ version: dagVersions.version, serialized: dagVersions.serialized })
    .from(dagVersions)
    .innerJoin(dags, eq(dags.id, dagVersions.dagId))
    .where(eq(dags.dagId, dagId))
    .orderBy(dagVersions.version);
}

describe('DAG processor', () => {
  it('stores every DAG of the folder, subfolders included, paused at creation', async () => {
    await folder.write('one.ts', simpleDag('one'));
    await folder.write('team/two.mts', simpleDag('two'));
    await folder.write('lib/helpers.ts', 'export const answer = 42;\n');
    const reports = await processor().refresh();

    expect(reports.map((r) => [r.file, r.dagIds])).toEqual([
      ['lib/helpers.ts', []],
      ['one.ts', ['one']],
      ['team/two.mts', ['two']],
    ]);
    const rows = await database.db.select().from(dags).orderBy(dags.dagId);
    expect(rows.map((r) => [r.dagId, r.file, r.isPaused, r.isActive, r.schedule])).toEqual([
      ['one', 'one.ts', true, true, '@daily'],
      ['two', 'team/two.mts', true, true, '@daily'],
    ]);
    const [v1] = await versionsOf('one');
    expect(v1!.serialized).toMatchObject({ dagId: 'one', edges: [['a', 'b']], tasks: [{ id: 'a' }, { id: 'b' }] });
  });

  it('starts new DAGs unpaused when configured so', async () => {
    await folder.write('one.ts', simpleDag('one'));
    await processor({ pausedAtCreation: false }).refresh();
    const [row] = await database.db.select().from(dags);
    expect(row!.isPaused).toBe(false);
  });

  it('stores a new version only when the DAG changed', async () => {
    await folder.write('one.ts', simpleDag('one'));
    const p = processor();
    await p.refresh();
    await p.refresh({ force: true });
    expect(await versionsOf('one')).toHaveLength(1);

    await folder.write('one.ts', simpleDag('one', "\n  t.task('c', async () => 3).after(b);"));
    const [report] = await p.refresh();
    expect(report!.newVersions).toEqual(['one']);
    const versions = await versionsOf('one');
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(versions[1]!.serialized).toMatchObject({
      edges: [
        ['a', 'b'],
        ['b', 'c'],
      ],
    });
  });

  it('records an import error with its line, keeps loading the other files, and clears it once fixed', async () => {
    await folder.write('good.ts', simpleDag('good'));
    await folder.write(
      'broken.ts',
      `import { dag } from 'updraft';
export default dag({ id: 'broken' }, (t) => {
  const a = t.task('a', async () => 1);
  a.then(a);
});
`,
    );
    const p = processor();
    await p.refresh();
    const errors = await database.db.select().from(importErrors);
    expect(errors).toMatchObject([{ file: 'broken.ts', message: "DAG 'broken': dependency cycle: a -> a", line: 4 }]);
    expect((await database.db.select().from(dags)).map((d) => d.dagId)).toEqual(['good']);

    await folder.write('broken.ts', simpleDag('broken'));
    await p.refresh();
    expect(await database.db.select().from(importErrors)).toEqual([]);
    expect((await database.db.select().from(dags).orderBy(dags.dagId)).map((d) => d.dagId)).toEqual(['broken', 'good']);
  });

  it('reports a syntax error with its location', async () => {
    await folder.write('syntax.ts', "import { dag } from 'updraft';\nconst x: number = ;\n");
    await processor().refresh();
    const [error] = await database.db.select().from(importErrors);
    expect(error).toMatchObject({ file: 'syntax.ts', line: 2 });
    expect(error!.message).toContain('Unexpected');
  });

  it('cuts off an import that never finishes', async () => {
    await folder.write('hang.ts', 'await new Promise(() => setInterval(() => {}, 1000));\n');
    await folder.write('good.ts', simpleDag('good'));
    await processor({ importTimeoutMs: 2_000 }).refresh();
    const [error] = await database.db.select().from(importErrors);
    expect(error).toMatchObject({
      file: 'hang.ts',
      message: expect.stringMatching(/^timed out after 2s while importing/),
    });
    expect((await database.db.select().from(dags)).map((d) => d.dagId)).toEqual(['good']);
  });

  it('never leaks module state from one parse to the next', async () => {
    await folder.write('counter.ts', 'export let count = 0;\nexport function bump() { return ++count; }\n');
    await folder.write(
      'uses.ts',
      `import { dag } from 'updraft';
import { bump } from './counter.ts';
export default dag({ id: 'uses', description: 'parse ' + bump() }, (t) => void t.task('a', async () => 1));
`,
    );
    const p = processor();
    await p.refresh();
    await p.refresh({ force: true });
    const [row] = await database.db.select().from(dags);
    expect(row!.description).toBe('parse 1');
  });

  it('refuses a DAG id already defined by another file', async () => {
    await folder.write('a.ts', simpleDag('same'));
    const p = processor();
    await p.refresh();
    await folder.write('b.ts', simpleDag('same'));
    await p.refresh();
    const [row] = await database.db.select().from(dags);
    expect(row!.file).toBe('a.ts');
    expect(await database.db.select().from(importErrors)).toMatchObject([
      { file: 'b.ts', message: "DAG id 'same' is already defined in a.ts" },
    ]);
  });

  it('makes the DAGs of a deleted file inactive and keeps their history', async () => {
    await folder.write('gone.ts', simpleDag('gone'));
    const p = processor();
    await p.refresh();
    await folder.remove('gone.ts');
    await p.refresh();
    const [row] = await database.db.select().from(dags);
    expect(row).toMatchObject({ dagId: 'gone', isActive: false });
    expect(await versionsOf('gone')).toHaveLength(1);
  });

  it('picks up a changed file while running', async () => {
    await folder.write('live.ts', simpleDag('live'));
    const p = processor();
    const first = once(p.events, 'parsed');
    p.start();
    await first;
    const second = once(p.events, 'parsed');
    await folder.write('live.ts', simpleDag('live', "\n  t.task('c', async () => 3);"));
    const [reports] = (await second) as [Awaited<ReturnType<DagProcessor['refresh']>>];
    await p.stop();
    expect(reports.map((r) => r.newVersions)).toEqual([['live']]);
    expect(await versionsOf('live')).toHaveLength(2);
  });
});
