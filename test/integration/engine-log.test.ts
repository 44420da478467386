/**
 * The process log names runs as users see them: the DAG id and the run id
 * ('manual__2030-01-01T00:00:00+00:00'), never the uuid of the run's row.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { Engine } from '../../src/engine/engine.js';
import { triggerRun } from '../../src/scheduler/runs.js';
import { makeDagFolder, type DagFolder } from '../support/dag-folder.js';
import { testDatabase } from '../support/db.js';
import { engineConfig } from '../support/engine.js';

const DAG = `import { dag } from 'updraft';
export default dag({ id: 'logged', schedule: null }, (t) => void t.task('only', async () => 1));
`;

let database: Database;
let folder: DagFolder;
let engine: Engine;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  database = await testDatabase();
  folder = await makeDagFolder({ 'logged.ts': DAG });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  engine = new Engine(
    database,
    engineConfig(folder.path),
    { processor: true, scheduler: true, executor: true },
    pino({ level: 'info' }, sink),
  );
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await folder?.cleanup();
});

describe('the engine log', () => {
  it("names a finished run by its DAG id and run id, not its row's uuid", async () => {
    const finished = new Promise<string>((resolve) => engine.bus.on('run:finished', (run) => resolve(run.runRowId)));
    const run = await triggerRun(database.db, 'logged', {
      actor: 'test',
      logicalDate: new Date('2030-01-01T00:00:00Z'),
    });
    const rowId = await finished;
    const line = lines.find((l) => typeof l.msg === 'string' && l.msg.includes(' of logged '));
    expect(line).toMatchObject({
      msg: `run ${run.runId} of logged success`,
      dag: 'logged',
      run: 'manual__2030-01-01T00:00:00+00:00',
    });
    expect(JSON.stringify(lines)).not.toContain(rowId);
  });
});
