/**
 * bench/sync: the sync operator against psql's own COPY pipe, moving pgbench_accounts
 * (pgbench -i -s 10: 1,000,000 rows, 97 bytes each as text) from one new database to
 * another on the same PostgreSQL, into a table with the same primary key (aid):
 *   (a) psql -c "\copy ... to stdout" | psql -c "\copy ... from stdin", into an empty table
 *   (b) full sync (TRUNCATE + COPY in one transaction)
 *   (c) incremental sync on key aid, watermark aid, no mark yet, into an empty table
 *       (copied straight into it: nothing to upsert)
 *   (d) the same into a table holding one other row: every row upserted through the
 *       temporary table and INSERT ... ON CONFLICT
 *   (e) the same from no mark into the full table: every row conflicts, none changed
 *   (f) the same again after every target row was changed: every row is rewritten
 * Goals (issue, 2 cores): (b) >= 0.7x (a), incremental upsert of every row ((c), (d)) >= 0.4x (a).
 *
 *   npm run bench:sync
 *   BENCH_SCALE=2 BENCH_RUNS=5 BENCH_DATABASE_URL=postgres://... npm run bench:sync
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import type { TaskContext } from '../src/dag/types.js';
import { quoteIdent } from '../src/db/quote.js';
import { closePools, poolFor } from '../src/operators/pg.js';
import type { SyncConfig, SyncResult } from '../src/dag/operators/sync.js';
import { syncOperator } from '../src/operators/sync/run.js';
import { OperatorError, type OperatorContext } from '../src/operators/types.js';
import { Figures } from './lib/figures.js';
import { machineLine, median } from './lib/machine.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ROWS = SCALE * 100_000;
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.BENCH_ADMIN_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const run = promisify(execFile);

const suffix = randomBytes(4).toString('hex');
const names = { src: `updraft_bench_${suffix}_src`, dst: `updraft_bench_${suffix}_dst` };
const urlOf = (database: string) => Object.assign(new URL(ADMIN_URL), { pathname: `/${database}` }).toString();
const urls = { src: urlOf(names.src), dst: urlOf(names.dst) };

const admin = new pg.Client({ connectionString: ADMIN_URL });
await admin.connect();

async function query(db: 'src' | 'dst', text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: urls[db] });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** A context like a task thread's: the bench's two connections and a watermark kept across tries. */
function context(state: Map<string, unknown>): OperatorContext {
  const noop = () => {};
  const start = new Date();
  const task: TaskContext = {
    dagId: 'bench_sync',
    taskId: 'sync',
    runId: 'bench',
    logicalDate: start,
    interval: { start, end: start },
    tryNumber: 1,
    mapIndex: -1,
    maxTries: 1,
    params: {},
    conf: {},
    triggeringEvents: [],
    log: {
      debug: noop,
      info: process.env.BENCH_LOG ? (m: string) => console.log(`    log: ${m}`) : noop,
      warn: noop,
      error: noop,
    },
    signal: new AbortController().signal,
    pull: async () => undefined as never,
  };
  return {
    task,
    async connection(name, field) {
      const url = urls[name as 'src' | 'dst'];
      if (!url) throw new OperatorError('sync', field, `unknown connection '${name}'`);
      return poolFor(name, url);
    },
    state: { get: async (key) => state.get(key) ?? null, set: (key, value) => void state.set(key, value) },
    saveReport: noop,
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - started) / 1000, value };
}

async function psqlPipe(): Promise<number> {
  await query('dst', 'truncate pgbench_accounts');
  const { seconds } = await timed(() =>
    run(
      'bash',
      [
        '-c',
        'set -o pipefail; psql -X -q -v ON_ERROR_STOP=1 "$SRC" -c "\\copy pgbench_accounts to stdout" | psql -X -q -v ON_ERROR_STOP=1 "$DST" -c "\\copy pgbench_accounts from stdin"',
      ],
      {
        env: { ...process.env, SRC: urls.src, DST: urls.dst },
      },
    ),
  );
  return seconds;
}

async function sync(
  config: SyncConfig,
  state = new Map<string, unknown>(),
): Promise<{ seconds: number; result: SyncResult }> {
  const { seconds, value } = await timed(() => syncOperator.run(config, context(state)) as Promise<SyncResult>);
  if (value.rowsRead !== ROWS) throw new Error(`expected ${ROWS} rows read, got ${JSON.stringify(value)}`);
  return { seconds, result: value };
}

const full: SyncConfig = {
  from: { conn: 'src', table: 'pgbench_accounts' },
  to: { conn: 'dst', table: 'pgbench_accounts' },
};
const incremental: SyncConfig = { ...full, key: ['aid'], incremental: { column: 'aid' } };

try {
  await admin.query(`create database ${quoteIdent(names.src)}`);
  await admin.query(`create database ${quoteIdent(names.dst)}`);
  await run('pgbench', ['-i', '-s', String(SCALE), '-q', urls.src]);
  // pgbench's own definition, primary key included, as a sync target would have it.
  await query(
    'dst',
    'create table pgbench_accounts (aid int not null primary key, bid int, abalance int, filler char(84)) with (fillfactor = 100)',
  );

  const figures: Record<'pipe' | 'full' | 'empty' | 'upsert' | 'unchanged' | 'changed', number[]> = {
    pipe: [],
    full: [],
    empty: [],
    upsert: [],
    unchanged: [],
    changed: [],
  };
  for (let i = 0; i < RUNS; i++) {
    figures.pipe.push(await psqlPipe());
    figures.full.push((await sync(full)).seconds);
    await query('dst', 'truncate pgbench_accounts');
    const empty = await sync(incremental);
    if (empty.result.rowsWritten !== ROWS)
      throw new Error(`expected ${ROWS} rows written into the empty table, got ${empty.result.rowsWritten}`);
    figures.empty.push(empty.seconds);
    await query('dst', 'truncate pgbench_accounts');
    await query('dst', `insert into pgbench_accounts values (0, 0, 0, 'not in the source')`);
    const upsert = await sync(incremental);
    if (upsert.result.rowsWritten !== ROWS)
      throw new Error(`expected ${ROWS} rows upserted, got ${upsert.result.rowsWritten}`);
    figures.upsert.push(upsert.seconds);
    const unchanged = await sync(incremental);
    if (unchanged.result.rowsWritten !== 0)
      throw new Error(`expected no row written over unchanged rows, got ${unchanged.result.rowsWritten}`);
    figures.unchanged.push(unchanged.seconds);
    await query('dst', 'update pgbench_accounts set abalance = abalance + 1');
    await query('dst', 'vacuum pgbench_accounts');
    const changed = await sync(incremental);
    if (changed.result.rowsWritten !== ROWS)
      throw new Error(`expected ${ROWS} rows rewritten, got ${changed.result.rowsWritten}`);
    figures.changed.push(changed.seconds);
    await query('dst', 'vacuum pgbench_accounts');
  }

  const { rows: settings } = await admin.query<{ name: string; setting: string }>(
    `select name, current_setting(name) as setting from pg_settings where name in ('server_version', 'shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'max_wal_size') order by name`,
  );
  const pipe = median(figures.pipe);
  const line = (label: string, values: number[], goal?: number) => {
    const seconds = median(values);
    const ratio = pipe / seconds;
    const rate = Math.round(ROWS / seconds).toLocaleString('en');
    return `  ${label.padEnd(58)} ${seconds.toFixed(2)} s  ${rate.padStart(9)} rows/s  ${ratio.toFixed(2)}x pipe${goal ? `   goal >= ${goal}x` : ''}`;
  };
  console.log(
    `bench/sync: ${ROWS.toLocaleString('en')} pgbench_accounts rows (scale ${SCALE}) between two databases, ${RUNS} runs, median`,
  );
  console.log(machineLine({ runs: String(RUNS) }));
  console.log(`database: PostgreSQL ${settings.map((r) => `${r.name}=${r.setting}`).join(' ')}`);
  console.log(line('(a) psql \\copy to stdout | psql \\copy from stdin', figures.pipe));
  console.log(line('(b) full sync', figures.full, 0.7));
  console.log(line('(c) incremental, no mark, empty target (copied in)', figures.empty, 0.4));
  console.log(line('(d) incremental, no mark, 1-row target (all upserted)', figures.upsert, 0.4));
  console.log(line('(e) incremental, no mark, full target (none changed)', figures.unchanged));
  console.log(line('(f) incremental, no mark, every target row differs', figures.changed));
  const report = new Figures('sync', { rows: String(ROWS) });
  report.add(
    'sync_pipe_rows_per_s',
    'psql \\copy to stdout | psql \\copy from stdin (the reference)',
    'rows/s',
    figures.pipe.map((s) => ROWS / s),
    true,
  );
  report.add(
    'sync_full_rows_per_s',
    'full sync',
    'rows/s',
    figures.full.map((s) => ROWS / s),
    true,
  );
  report.add(
    'sync_incremental_empty_rows_per_s',
    'incremental, no mark, empty target',
    'rows/s',
    figures.empty.map((s) => ROWS / s),
    true,
  );
  report.add(
    'sync_incremental_upsert_rows_per_s',
    'incremental, no mark, every row upserted',
    'rows/s',
    figures.upsert.map((s) => ROWS / s),
    true,
  );
  await report.write();
} finally {
  await closePools();
  for (const name of Object.values(names))
    await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`);
  await admin.end();
}
