/**
 * bench/web: latency of the web UI and the REST API with a realistic history: 100 DAGs
 * of 5 tasks with 1,000 finished runs each (100,000 runs, 500,000 task instances) on a
 * fresh PostgreSQL database, served by `updraft web` in its own process and loaded by
 * autocannon from this one. Prints p50 / p99 per page. Goal (web issue): p99 <= 100 ms.
 *
 *   npm run bench:web
 *   BENCH_CONNECTIONS=10 BENCH_SECONDS=5 npm run bench:web
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { execute } from '../src/db/execute.js';
import { DagProcessor } from '../src/processor/processor.js';
import { benchDatabase } from './lib/database.js';
import { Figures } from './lib/figures.js';
import { machineLine } from './lib/machine.js';

const DAGS = 100;
const RUNS = 1000;
const TASKS = 5;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function dagFile(i: number): string {
  const id = `dag_${String(i).padStart(3, '0')}`;
  const tasks = Array.from({ length: TASKS }, (_, t) => `t.task('t${t}', () => ${t})`);
  return `import { dag } from 'updraft';
export default dag({ id: '${id}', schedule: '@daily', startDate: '2023-01-01', tags: ['team_${i % 7}'], owner: 'bench' }, (t) => {
  t.chain(${tasks.join(', ')});
});
`;
}

async function seed(folder: string, bench: Awaited<ReturnType<typeof benchDatabase>>): Promise<void> {
  const { db } = bench.database;
  // DAG files are ES modules; outside this repository their folder says so.
  await writeFile(path.join(folder, 'package.json'), '{ "type": "module" }\n');
  for (let i = 0; i < DAGS; i++) await writeFile(path.join(folder, `dag_${i}.ts`), dagFile(i));
  await new DagProcessor(
    db,
    loadConfig({ UPDRAFT_DAGS_FOLDER: folder, UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false' }),
  ).refresh();
  // Finished history in two statements: runs of every day since 2023-01-01, then their task instances.
  await execute(
    db,
    sql`insert into dag_runs (dag_id, dag_version_id, run_id, run_type, state, logical_date, interval_start, interval_end, run_after, queued_at, started_at, ended_at)
        select d.id, d.latest_version_id, 'scheduled__' || to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00', 'scheduled',
               (case when random() < 0.1 then 'failed' else 'success' end)::dag_run_state,
               ts, ts, ts + interval '1 day', ts + interval '1 day', ts + interval '1 day', ts + interval '1 day 1 second', ts + interval '1 day 9 seconds'
          from dags d, generate_series(timestamptz '2023-01-01 00:00+00', timestamptz '2023-01-01 00:00+00' + ${`${RUNS - 1} days`}::interval, interval '1 day') ts`,
  );
  await execute(
    db,
    sql`insert into task_instances (run_id, dag_id, task_id, state, try_number, max_tries, operator, scheduled_at, queued_at, started_at, ended_at)
        select r.id, r.dag_id, 't' || n, (case when r.state = 'failed' and n = ${TASKS - 1} then 'failed' else 'success' end)::task_state, 1, 1, 'task',
               r.started_at + n * interval '1 second', r.started_at + n * interval '1 second', r.started_at + n * interval '1 second', r.started_at + (n + 1) * interval '1 second'
          from dag_runs r, generate_series(0, ${TASKS - 1}) n`,
  );
  await execute(db, sql`analyze`);
}

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startWeb(env: Record<string, string>, folder: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'updraft.mjs'), 'web', '--port', String(await freePort())],
    {
      env: { ...process.env, ...env, UPDRAFT_DAGS_FOLDER: folder, UPDRAFT_ENV_FILE: '', UPDRAFT_LOG_LEVEL: 'warn' },
      // The startup banner, with the address, goes to stderr.
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const found = /(http:\/\/[\d.]+:\d+)/.exec(out);
      if (found) resolve(found[1]!);
    });
    child.once('exit', (code) => reject(new Error(`updraft web exited (${code}) before listening: ${out}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const TARGETS: [string, string][] = [
  ['DAG list page', '/'],
  ['grid view page (25 runs)', '/ui/dags/dag_042'],
  ['API: DAGs', '/api/v1/dags'],
  ["API: one DAG's runs", '/api/v1/dags/dag_042/dagRuns?limit=100'],
  ["API: every DAG's runs", '/api/v1/dags/~/dagRuns?limit=100'],
  ["API: a run's task instances", '/api/v1/dags/dag_042/dagRuns/scheduled__2025-06-01T00:00:00+00:00/taskInstances'],
  ['API: event log', '/api/v1/eventLogs?limit=100'],
];

async function main(): Promise<void> {
  const bench = await benchDatabase('postgres');
  const folder = await mkdtemp(path.join(os.tmpdir(), 'updraft-bench-web-'));
  try {
    const started = performance.now();
    await seed(folder, bench);
    console.log(
      `bench/web: ${DAGS} DAGs x ${RUNS} runs x ${TASKS} tasks seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    console.log(machineLine({ connections: String(CONNECTIONS), seconds: String(SECONDS) }));
    console.log(`database: ${await bench.describe()}`);
    const web = await startWeb(bench.env, folder);
    const figures = new Figures('web', {
      DAGs: String(DAGS),
      'runs per DAG': String(RUNS),
      'tasks per run': String(TASKS),
      connections: String(CONNECTIONS),
      seconds: String(SECONDS),
    });
    try {
      for (const [label, target] of TARGETS) {
        const probe = await fetch(web.url + target);
        if (!probe.ok)
          throw new Error(
            `${target}: ${probe.status} ${(await probe.text())
              .replace(/<style>[\s\S]*?<\/style>|<[^>]+>/g, ' ')
              .replace(/\s+/g, ' ')
              .slice(0, 400)}`,
          );
        const result = await autocannon({ url: web.url + target, connections: CONNECTIONS, duration: SECONDS });
        if (result.non2xx > 0) throw new Error(`${target}: ${result.non2xx} answers were not 2xx`);
        const { p50, p99 } = result.latency;
        const verdict = p99 <= 100 ? 'ok' : 'ABOVE the 100 ms goal';
        console.log(
          `  ${label.padEnd(30)} p50 ${String(p50).padStart(4)} ms  p99 ${String(p99).padStart(4)} ms  ${Math.round(result.requests.average)} req/s  ${verdict}`,
        );
        figures.add(
          `web_${target.replace(/[^a-z0-9]+/gi, '_').replace(/^_|_$/g, '') || 'root'}_p99_ms`,
          `${label}: p99 under ${CONNECTIONS} connections`,
          'ms',
          [p99],
        );
      }
      await figures.write();
    } finally {
      await web.stop();
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
    await bench.dispose();
  }
}

await main();
