/**
 * `npm run bench`: every benchmark of bench/, one after the other (never two at once: they
 * would share the machine's cores), on PostgreSQL, then one report in bench/results/:
 * report-<time>.md for people and report-<time>.json for comparisons, plus latest.md and
 * latest.json. The report says where the figures were measured (CPU, cores, memory,
 * PostgreSQL's version and settings, package versions), gives each figure as the median
 * and range of its repetitions, and the ratios of Updraft to graphile-worker (bench/peer.ts)
 * measured in the same run.
 *
 * Each bench prints its own figures as it does when run alone, and writes them as JSON to
 * BENCH_JSON (bench/lib/figures.ts); its printed output is kept in the report too.
 *
 *   npm run bench                          # all of them, BENCH_RUNS=3
 *   BENCH_ONLY=engine,peer npm run bench   # some of them
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import type { BenchFigures, Figure } from './lib/figures.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ADMIN_URL =
  process.env.BENCH_ADMIN_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The benches, in the order they run, with the settings `npm run bench` gives them. */
const BENCHES: { name: string; env?: Record<string, string>; what: string }[] = [
  { name: 'peer', what: 'graphile-worker on the same PostgreSQL: the bar' },
  { name: 'engine', what: 'the engine in one process: throughput, a chain, latency' },
  { name: 'parse', what: "a 10,000-task DAG's parse, and the plan of a run of it" },
  {
    name: 'footprint',
    what: 'scheduler CPU per finished task by DAG size, and the memory of standalone with 100 DAGs',
  },
  { name: 'scale', what: 'one and two worker processes beside a scheduler' },
  { name: 'backfill', what: 'backfills' },
  { name: 'sync', what: 'the sync operator beside psql' },
  { name: 'web', what: 'the web UI and API under load' },
];

interface Result {
  name: string;
  what: string;
  seconds: number;
  exitCode: number;
  output: string;
  figures?: BenchFigures;
}

async function runBench(bench: (typeof BENCHES)[number], dir: string): Promise<Result> {
  const json = path.join(dir, `${bench.name}.json`);
  const began = performance.now();
  const env = {
    ...process.env,
    BENCH_DRIVER: 'postgres',
    BENCH_RUNS: process.env.BENCH_RUNS ?? '3',
    ...bench.env,
    BENCH_JSON: json,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('bench', `${bench.name}.ts`)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
  }
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const figures = await readFile(json, 'utf8').then(
    (text) => JSON.parse(text) as BenchFigures,
    () => undefined,
  );
  return { name: bench.name, what: bench.what, seconds: (performance.now() - began) / 1000, exitCode, output, figures };
}

async function postgresInfo(): Promise<{ version: string; settings: Record<string, string> }> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const version = (await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v;
    const names = [
      'shared_buffers',
      'work_mem',
      'max_connections',
      'fsync',
      'synchronous_commit',
      'wal_level',
      'max_wal_size',
      'jit',
    ];
    const { rows } = await client.query<{ name: string; setting: string; unit: string | null }>(
      'select name, setting, unit from pg_settings where name = any($1) order by name',
      [names],
    );
    return {
      version,
      settings: Object.fromEntries(rows.map((r) => [r.name, r.unit ? `${r.setting} (${r.unit})` : r.setting])),
    };
  } finally {
    await client.end();
  }
}

async function packageVersions(): Promise<Record<string, string>> {
  const names = [
    'updraft',
    'pg',
    'drizzle-orm',
    '@electric-sql/pglite',
    'piscina',
    'graphology',
    'hono',
    'tsx',
    'graphile-worker',
  ];
  const versions: Record<string, string> = {};
  for (const name of names) {
    const file =
      name === 'updraft' ? path.join(ROOT, 'package.json') : path.join(ROOT, 'node_modules', name, 'package.json');
    versions[name] = await readFile(file, 'utf8').then(
      (t) => (JSON.parse(t) as { version: string }).version,
      () => 'not installed',
    );
  }
  return versions;
}

async function gitCommit(): Promise<string> {
  return promisify(execFile)('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).then(
    ({ stdout }) => stdout.trim(),
    () => 'unknown',
  );
}

/** A figure's median and range with the same number of decimals, chosen by the median's size. */
function figureText(f: Figure): string {
  const size = Math.abs(f.median);
  const digits = size >= 100 ? 0 : size >= 10 ? 1 : size >= 1 ? 2 : 3;
  const text = (n: number) =>
    n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return f.values.length > 1 ? `${text(f.median)} (${text(f.min)}-${text(f.max)})` : text(f.median);
}

interface Ratio {
  what: string;
  updraft: string;
  peer: string;
  /** Updraft over the peer, oriented so that > 1 means Updraft is better. */
  ratio: number | null;
  goal: string;
}

/** Updraft over graphile-worker, from figures of the same run. */
function ratios(all: Map<string, Figure>): Ratio[] {
  const pairs: [string, string, string, string][] = [
    [
      'throughput: one run of no-op tasks vs bulk drain, defaults',
      'wide_tasks_per_s',
      'peer_drain_default_jobs_per_s',
      '>= 1.0',
    ],
    [
      'throughput: one run of no-op tasks vs bulk drain, batched',
      'wide_tasks_per_s',
      'peer_drain_batched_jobs_per_s',
      '>= 1.0',
    ],
    [
      'latency p50: upstream ended -> downstream started vs add -> start',
      'latency_p50_ms',
      'peer_latency_p50_ms',
      ">= 1.0 (p50 <= the peer's)",
    ],
    ['latency p99', 'latency_p99_ms', 'peer_latency_p99_ms', ''],
  ];
  return pairs.map(([what, ours, theirs, goal]) => {
    const a = all.get(ours);
    const b = all.get(theirs);
    const ratio =
      a && b && a.median > 0 && b.median > 0 ? (a.higherIsBetter ? a.median / b.median : b.median / a.median) : null;
    return {
      what,
      updraft: a ? `${figureText(a)} ${a.unit}` : 'not measured',
      peer: b ? `${figureText(b)} ${b.unit}` : 'not measured',
      ratio,
      goal,
    };
  });
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const chosen = only ? BENCHES.filter((b) => only.includes(b.name)) : BENCHES;
  const unknown = only?.filter((name) => !BENCHES.some((b) => b.name === name)) ?? [];
  if (unknown.length > 0)
    throw new Error(
      `BENCH_ONLY: no bench named ${unknown.join(', ')} (there are ${BENCHES.map((b) => b.name).join(', ')})`,
    );

  const started = new Date();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'updraft-bench-all-'));
  const results: Result[] = [];
  try {
    for (const bench of chosen) {
      console.log(`\n=== bench/${bench.name}.ts: ${bench.what}`);
      results.push(await runBench(bench, dir));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const figures = new Map(results.flatMap((r) => r.figures?.figures ?? []).map((f) => [f.key, f]));
  const report = {
    started: started.toISOString(),
    commit: await gitCommit(),
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
      cores: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
    },
    postgres: await postgresInfo(),
    packages: await packageVersions(),
    runs: Number(process.env.BENCH_RUNS ?? 3),
    ratios: ratios(figures),
    benches: results.map(({ name, what, seconds, exitCode, figures: f }) => ({
      name,
      what,
      seconds,
      exitCode,
      settings: f?.settings ?? {},
      figures: f?.figures ?? [],
    })),
  };

  const md = [
    `# Updraft benchmark report`,
    '',
    `${report.started}, commit ${report.commit}, \`npm run bench\` (each figure: median (min-max) of ${report.runs} repetitions unless its bench says otherwise)`,
    '',
    `- **Machine:** ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGiB} GiB, ${report.machine.os}, Node ${report.machine.node}`,
    `- **PostgreSQL:** ${report.postgres.version}; ${Object.entries(report.postgres.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `- **Packages:** ${Object.entries(report.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '',
    '## Updraft over graphile-worker, same run',
    '',
    '| | Updraft | graphile-worker | ratio (> 1: Updraft better) | goal |',
    '|---|---|---|---|---|',
    ...report.ratios.map(
      (r) =>
        `| ${r.what} | ${r.updraft} | ${r.peer} | ${r.ratio === null ? 'n/a' : `x${r.ratio.toFixed(2)}`} | ${r.goal} |`,
    ),
    '',
    ...results.flatMap((r) => [
      `## ${r.name}: ${r.what}`,
      '',
      r.exitCode === 0
        ? `${r.seconds.toFixed(0)} s.`
        : `**Failed** (exit ${r.exitCode}) after ${r.seconds.toFixed(0)} s.`,
      '',
      ...(r.figures && r.figures.figures.length > 0
        ? [
            `Settings: ${
              Object.entries(r.figures.settings)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ') || 'defaults'
            }`,
            '',
            '| figure | median (min-max) | unit |',
            '|---|---|---|',
            ...r.figures.figures.map((f) => `| ${f.label} | ${figureText(f)} | ${f.unit} |`),
            '',
          ]
        : []),
      '<details><summary>printed output</summary>',
      '',
      '```',
      r.output.trimEnd(),
      '```',
      '',
      '</details>',
      '',
    ]),
  ].join('\n');

  const out = path.join(ROOT, 'bench', 'results');
  await mkdir(out, { recursive: true });
  const stamp = report.started.replace(/[:.]/g, '-');
  for (const [name, text] of [
    [`report-${stamp}.md`, md],
    [`report-${stamp}.json`, `${JSON.stringify(report, null, 2)}\n`],
    ['latest.md', md],
    ['latest.json', `${JSON.stringify(report, null, 2)}\n`],
  ] as const) {
    await writeFile(path.join(out, name), text);
  }
  console.log(`\n${md.split('\n## ')[0]}\n## ${md.split('\n## ')[1]}`);
  console.log(`report: bench/results/report-${stamp}.md and .json (also bench/results/latest.md)`);
  if (results.some((r) => r.exitCode !== 0)) process.exitCode = 1;
}

await main();
