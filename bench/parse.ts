/**
 * bench/parse: generate a DAG file of 10,000 tasks (one line per task and per
 * dependency, ~1 MB of source), parse it the way the DAG processor does (a fresh
 * worker thread, tsx import, validation, serialization) and store it, printing
 * where the time goes. Goal (issue 2): <= 1 s in total.
 *
 * The processor keeps one parse thread started ahead, so a changed file does not
 * wait for a thread to load tsx and Updraft; that start-up is printed on its own
 * (coldThreadStartMs) and each timed run begins with a ready thread, as in a
 * running scheduler.
 *
 *   npm run bench:parse                         # embedded PGlite in a temp dir
 *   BENCH_DRIVER=postgres npm run bench:parse   # a new database on the local PostgreSQL (BENCH_ADMIN_URL)
 *   BENCH_TASKS=1000 BENCH_RUNS=5 npm run bench:parse
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseDagFile, parseThreadReady } from '../src/processor/parse.js';
import { storeParsedFiles } from '../src/processor/store.js';
import { benchDatabase } from './lib/database.js';
import { machineLine, median } from './lib/machine.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WIDTH = 100;

/** Layers of WIDTH tasks; each task depends on two tasks of the layer before. */
function generateDagSource(tasks: number): string {
  const lines = ["import { dag } from 'updraft';", '', "export default dag({ id: 'bench_parse', schedule: '@daily', startDate: '2026-01-01' }, (t) => {", '  const noop = async () => null;'];
  for (let i = 0; i < tasks; i++) {
    lines.push(`  const t${i} = t.task('task_${i}', noop);`);
    if (i >= WIDTH) {
      const base = i - WIDTH - (i % WIDTH);
      lines.push(`  t${i}.after(t${base + (i % WIDTH)}, t${base + ((i + 1) % WIDTH)});`);
    }
  }
  lines.push('});', '');
  return lines.join('\n');
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'updraft-bench-parse-'));
const dagsFolder = path.join(dir, 'dags');
const file = path.join(dagsFolder, 'bench_parse.ts');
const bench = await benchDatabase();
const { database } = bench;
try {
  await import('node:fs/promises').then((fs) => fs.mkdir(dagsFolder));
  await writeFile(path.join(dagsFolder, 'package.json'), '{ "type": "module" }\n');

  const coldStarted = performance.now();
  await parseThreadReady();
  const coldThreadStartMs = performance.now() - coldStarted;

  const rows: Record<string, number>[] = [];
  for (let run = 0; run < RUNS; run++) {
    // A new source each run, so each store writes a new version (the real work).
    await writeFile(file, generateDagSource(TASKS) + `// run ${run}\n`);
    await parseThreadReady();
    const started = performance.now();
    const parsed = await parseDagFile(file, 60_000);
    const parsedAt = performance.now();
    if (!parsed.outcome.ok) throw new Error(`the generated DAG failed to parse: ${parsed.outcome.error.message}`);
    await storeParsedFiles(database.db, [parsed], { dagsFolder, pausedAtCreation: true, presentFiles: [file] });
    const storedAt = performance.now();
    const { importMs, validateMs, serializeMs } = parsed.outcome.timings;
    rows.push({
      threadHandoffMs: parsedAt - started - importMs - serializeMs,
      importMs: importMs - validateMs,
      validateMs,
      serializeMs,
      storeMs: storedAt - parsedAt,
      totalMs: storedAt - started,
    });
  }

  console.log(`bench/parse: ${TASKS} tasks, ${RUNS} runs, median (min-max) in ms`);
  console.log(machineLine());
  console.log(`database: ${await bench.describe()}`);
  console.log(`  coldThreadStartMs ${coldThreadStartMs.toFixed(1)} (once per thread, started ahead of need)`);
  for (const key of Object.keys(rows[0]!)) {
    const values = rows.map((r) => r[key]!);
    const fmt = (n: number) => n.toFixed(1);
    console.log(`  ${key.padEnd(14)} ${fmt(median(values)).padStart(8)}  (${fmt(Math.min(...values))}-${fmt(Math.max(...values))})`);
  }
} finally {
  await bench.dispose();
  await rm(dir, { recursive: true, force: true });
}
