/**
 * The plans of the hot statements of src/db/sql/ on a realistic history: 100,000 finished task
 * instances over 1,000 runs, plus a few hundred unfinished ones. Each statement is built by its
 * own exported function (a recording executor captures the SQL and its parameters, so what is
 * measured is what the code sends), then run under EXPLAIN (ANALYZE, BUFFERS) in a transaction
 * that is rolled back: a warm-up and 5 timed runs. Prints the median execution time, the scans
 * and indexes used and the rows written. Which partial index a plan takes varies from one fresh
 * database to the next (ANALYZE samples the rows): run it more than once. PostgreSQL only (the
 * local server, or BENCH_ADMIN_URL).
 *
 *   npm run bench:sql
 */
import { randomUUID } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type pg from 'pg';
import { writeDecisions } from '../src/db/sql/apply-decisions.js';
import { claimWithin, recoverClaims } from '../src/db/sql/claim-tasks.js';
import { recordDatasetEvents } from '../src/db/sql/dataset-events.js';
import { expandPlaceholder, failPlaceholder } from '../src/db/sql/expand-mapping.js';
import { endRun, leafFailed, runProgress, runTaskStates } from '../src/db/sql/finish-run.js';
import { handBackTries } from '../src/db/sql/hand-back.js';
import { heartbeatTries, revokedTries } from '../src/db/sql/heartbeat.js';
import { insertLogs } from '../src/db/sql/insert-logs.js';
import { promoteDue } from '../src/db/sql/promote-retries.js';
import { recordTryEnds } from '../src/db/sql/record-try-ends.js';
import { insertTaskInstanceRows, lockQueuedRuns, markRunsRunning, startableRuns } from '../src/db/sql/start-runs.js';
import { markTriesRunning } from '../src/db/sql/start-tries.js';
import { benchDatabase } from './lib/database.js';
import { machineLine, median } from './lib/machine.js';

const DAGS = 10;
const FINISHED_RUNS_PER_DAG = 100;
const TASKS_PER_RUN = 100;
const REPEATS = 5;

/**
 * Runs `call` against an executor that records each statement instead of running it, and
 * returns them as text and parameters. Its answer makes every function go its usual way: a
 * lock that is held, nothing promoted, a run that was running.
 */
async function capture(call: (fake: never) => Promise<unknown>): Promise<{ text: string; params: unknown[] }[]> {
  const dialect = new PgDialect();
  const statements: { text: string; params: unknown[] }[] = [];
  const fake = {
    execute: async (query: SQL) => {
      const { sql: text, params } = dialect.sqlToQuery(query);
      statements.push({ text, params });
      return { rows: [{ held: true, run_id: 'x', n: 0, events: 0, next: null }], rowCount: 0 };
    },
    transaction: async (body: (tx: unknown) => Promise<unknown>) => body(fake),
  };
  await call(fake as never);
  return statements;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Parent Relationship'?: string;
  Plans?: PlanNode[];
}

/** What a plan reads and writes: each scan (with its index) and the rows fed to each insert, update or delete. */
function summarize(plan: PlanNode): { scans: string[]; written: number } {
  const scans = new Set<string>();
  let written = 0;
  const walk = (node: PlanNode) => {
    if (node['Index Name']) scans.add(`${node['Node Type'].toLowerCase()} ${node['Index Name']}`);
    else if (node['Node Type'] === 'Seq Scan') scans.add(`seq scan ${node['Relation Name']}`);
    // A ModifyTable's CTEs are InitPlans beside it; the rows it writes come from its Outer child.
    const source =
      node['Node Type'] === 'ModifyTable' ? node.Plans?.find((p) => p['Parent Relationship'] === 'Outer') : undefined;
    if (source) written += source['Actual Rows'] * source['Actual Loops'];
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan);
  return { scans: [...scans], written };
}

async function explain(client: pg.PoolClient, text: string, params: unknown[]) {
  await client.query('begin');
  try {
    const { rows } = await client.query(`explain (analyze, buffers, format json) ${text}`, params);
    const [result] = rows[0]['QUERY PLAN'] as [{ Plan: PlanNode; 'Execution Time': number }];
    return result;
  } finally {
    await client.query('rollback');
  }
}

/** The history: DAGs, 1,000 finished runs of 100 finished task instances, a few running runs with work in every state. */
async function seed(client: pg.PoolClient): Promise<void> {
  await client.query(`
    insert into dags (dag_id, file, is_paused, timezone, max_active_tasks)
    select 'dag_' || d, 'dag_' || d || '.ts', false, 'UTC', 64 from generate_series(0, ${DAGS - 1}) d;
    insert into dag_versions (dag_id, version, hash, serialized, source)
    select id, 1, md5(dag_id), '{}', '' from dags;
    update dags d set latest_version_id = v.id from dag_versions v where v.dag_id = d.id;
    -- Finished history: 100 runs per DAG, hourly.
    insert into dag_runs (dag_id, dag_version_id, run_id, run_type, state, logical_date, interval_start, interval_end, run_after, started_at, ended_at)
    select d.id, d.latest_version_id, 'scheduled__' || n, 'scheduled', 'success', t, t, t + interval '1 hour', t + interval '1 hour', t, t + interval '5 min'
      from dags d, generate_series(1, ${FINISHED_RUNS_PER_DAG}) n, lateral (select timestamptz '2026-01-01' + n * interval '1 hour' as t) x;
    insert into task_instances (run_id, dag_id, task_id, state, try_number, max_tries, operator, scheduled_at, queued_at, started_at, ended_at, dag_version_id)
    select r.id, r.dag_id, 't' || k, case when k % 97 = 0 then 'failed'::task_state else 'success' end, 1, 1, 'bash',
           r.started_at, r.started_at, r.started_at, r.ended_at, r.dag_version_id
      from dag_runs r, generate_series(0, ${TASKS_PER_RUN - 1}) k;
    insert into task_logs (task_instance_id, try_number, at, level, message)
    select id, 1, ended_at, 'info', 'done' from task_instances;
    -- Running runs: one per DAG, its 100 tasks spread over every unfinished state.
    insert into dag_runs (dag_id, dag_version_id, run_id, run_type, state, logical_date, interval_start, interval_end, run_after, started_at)
    select d.id, d.latest_version_id, 'manual__live', 'manual', 'running', t, t, t, t, now()
      from dags d, lateral (select timestamptz '2027-01-01' as t) x;
    insert into task_instances (run_id, dag_id, task_id, state, try_number, max_tries, operator, scheduled_at,
                                owner, lease, heartbeat_at, next_try_at, started_at, ended_at, dag_version_id)
    select r.id, r.dag_id, 't' || k, s.state, case when s.state in ('queued', 'running', 'up_for_retry') then 1 else 0 end, 2, 'bash',
           case when s.state is not null then now() end,
           case when s.state in ('queued', 'running') then 'bench-worker' end,
           case when s.state in ('queued', 'running') then gen_random_uuid() end,
           case when s.state in ('queued', 'running') then now() end,
           case when s.state = 'up_for_retry' then now() + interval '5 min' end,
           case when s.state in ('running', 'success') then now() end,
           case when s.state = 'success' then now() end, r.dag_version_id
      from dag_runs r, generate_series(0, ${TASKS_PER_RUN - 1}) k,
           lateral (select (array['success', 'scheduled', 'queued', 'running', 'up_for_retry', null])[1 + k / 17]::task_state as state) s
     where r.state = 'running';
    -- A mapped task's placeholder in each running run.
    insert into task_instances (run_id, dag_id, task_id, operator)
    select id, dag_id, 'mapped', 'bash' from dag_runs where state = 'running';
    -- Queued runs: 20 per DAG.
    insert into dag_runs (dag_id, dag_version_id, run_id, run_type, state, logical_date, interval_start, interval_end, run_after, queued_at)
    select d.id, d.latest_version_id, 'scheduled__q' || n, 'scheduled', 'queued', t, t, t + interval '1 hour', t, now()
      from dags d, generate_series(1, 20) n, lateral (select timestamptz '2027-02-01' + n * interval '1 hour' as t) x;
    -- A dataset that dag_9 is scheduled on.
    insert into datasets (uri) values ('s3://bench/orders');
    insert into dag_schedule_dataset_refs (dag_id, dataset_id) select d.id, ds.id from dags d, datasets ds where d.dag_id = 'dag_9';
    -- Room in the default pool for every DAG's maxActiveTasks.
    update pools set slots = 1024 where name = 'default_pool';
    analyze;
  `);
}

async function main(): Promise<void> {
  const bench = await benchDatabase('postgres');
  try {
    const client = await bench.database.pool!.connect();
    try {
      const seeded = performance.now();
      await seed(client);
      const { rows: sizes } = await client.query(`
        select (select count(*) from task_instances where state in ('success', 'failed', 'skipped', 'upstream_failed'))::int as finished,
               (select count(*) from task_instances where state is null or state not in ('success', 'failed', 'skipped', 'upstream_failed'))::int as unfinished,
               (select count(*) from dag_runs)::int as runs, (select count(*) from task_logs)::int as logs,
               pg_size_pretty(pg_total_relation_size('task_instances')) as ti_size`);
      const size = sizes[0];
      console.log(machineLine());
      console.log(await bench.describe());
      console.log(
        `data: ${size.finished} finished + ${size.unfinished} unfinished task instances (${size.ti_size} with indexes), ` +
          `${size.runs} runs, ${size.logs} log lines; seeded in ${Math.round(performance.now() - seeded)} ms\n`,
      );

      const one = async <T>(q: string, params: unknown[] = []) => (await client.query(q, params)).rows[0] as T;
      const liveRun = await one<{ id: string; dag_id: string }>(
        `select id, dag_id from dag_runs where run_id = 'manual__live' order by id limit 1`,
      );
      const finishedRun = await one<{ id: string }>(
        `select id from dag_runs where state = 'success' order by logical_date desc limit 1`,
      );
      const held = async (state: string, limit: number) =>
        (
          await client.query<{ id: string; lease: string; task_id: string; run_id: string }>(
            `select id, lease, task_id, run_id from task_instances where state = $1 and lease is not null order by id limit ${limit}`,
            [state],
          )
        ).rows;
      const running = await held('running', 50);
      const queued = await held('queued', 50);
      const queuedRuns = (
        await client.query<{ id: string }>(`select id from dag_runs where state = 'queued' order by id limit 20`)
      ).rows.map((r) => r.id);
      const undecided = (
        await client.query<{ task_id: string }>(
          `select task_id from task_instances where run_id = $1 and state is null and map_index = -1 and task_id <> 'mapped' limit 10`,
          [liveRun.id],
        )
      ).rows;
      const now = new Date();
      const ends = running.slice(0, 10).map((t) => ({
        id: t.id,
        lease: t.lease,
        try_number: 1,
        state: 'success',
        error: null,
        next_try_at: null,
        started_at: now,
        ended_at: now,
        sensor_started_at: null,
      }));

      const cases: [string, string, (fake: never) => Promise<unknown>, number?][] = [
        [
          'apply-decisions',
          'writeDecisions (10 tasks)',
          (tx) =>
            writeDecisions(
              tx,
              liveRun.id,
              undecided.map((u) => ({ taskId: u.task_id, state: 'scheduled' })),
            ),
        ],
        [
          'claim-tasks',
          'claimWithin (limit 16)',
          (tx) => claimWithin(tx, { owner: 'bench', queues: ['default'], limit: 16, token: randomUUID() }),
          1,
        ],
        [
          'claim-tasks',
          'recoverClaims (3 tokens)',
          (db) => recoverClaims(db, 'bench-worker', [randomUUID(), randomUUID(), randomUUID()]),
        ],
        [
          'dataset-events',
          'recordDatasetEvents (1 outlet)',
          (tx) =>
            recordDatasetEvents(tx, [
              { uri: 's3://bench/orders', taskInstanceId: running[0]!.id, taskId: running[0]!.task_id, tryNumber: 1 },
            ]),
        ],
        ['expand-mapping', 'expandPlaceholder (100 items)', (tx) => expandPlaceholder(tx, liveRun.id, 'mapped', 100)],
        ['expand-mapping', 'failPlaceholder', (tx) => failPlaceholder(tx, liveRun.id, 'mapped', 'bench')],
        ['finish-run', 'runProgress (live run)', (tx) => runProgress(tx, liveRun.id)],
        ['finish-run', 'runProgress (finished run)', (tx) => runProgress(tx, finishedRun.id)],
        ['finish-run', 'leafFailed', (tx) => leafFailed(tx, finishedRun.id, ['t98', 't99'])],
        ['finish-run', 'endRun', (tx) => endRun(tx, liveRun.id, 'success')],
        ['finish-run', 'runTaskStates', (tx) => runTaskStates(tx, liveRun.id)],
        [
          'hand-back',
          'handBackTries (10 tries)',
          (db) => handBackTries(db, running.slice(0, 10), ['queued', 'running']),
        ],
        ['heartbeat', 'heartbeatTries (50 tries)', (db) => heartbeatTries(db, running)],
        [
          'heartbeat',
          'revokedTries (50 ids)',
          (db) =>
            revokedTries(
              db,
              running.map((t) => t.id),
            ),
        ],
        [
          'insert-logs',
          'insertLogs (100 lines)',
          (tx) =>
            insertLogs(
              tx,
              Array.from({ length: 100 }, (_, i) => ({
                id: running[i % 50]!.id,
                try_number: 1,
                at: now,
                level: 'info',
                message: `line ${i}`,
              })),
            ),
        ],
        ['promote-retries', 'promoteDue: update', (tx) => promoteDue(tx), 0],
        ['promote-retries', 'promoteDue: next due', (tx) => promoteDue(tx), 1],
        [
          'record-try-ends',
          'recordTryEnds (10 ends)',
          (tx) =>
            recordTryEnds(
              tx,
              [...new Set(ends.map((e) => running.find((t) => t.id === e.id)!.run_id))],
              ends,
              ends.map((e) => ({ id: e.id, value: { ok: true } })),
            ),
        ],
        ['start-runs', 'startableRuns', (tx) => startableRuns(tx)],
        ['start-runs', 'lockQueuedRuns (20 runs)', (tx) => lockQueuedRuns(tx, queuedRuns)],
        ['start-runs', 'markRunsRunning (20 runs)', (tx) => markRunsRunning(tx, queuedRuns, now)],
        [
          'start-runs',
          'insertTaskInstanceRows (100 tasks)',
          (tx) =>
            insertTaskInstanceRows(
              tx,
              queuedRuns[0]!,
              liveRun.dag_id,
              Array.from({ length: 100 }, (_, i) => ({
                task_id: `t${i}`,
                state: i === 0 ? 'scheduled' : null,
                max_tries: 1,
                priority: 1,
                pool: 'default_pool',
                queue: 'default',
                operator: 'bash',
              })),
              now,
            ),
        ],
        [
          'start-tries',
          'markTriesRunning (50 tries)',
          (db) =>
            markTriesRunning(
              db,
              queued.map((t) => ({ id: t.id, lease: t.lease, startedAt: now })),
            ),
        ],
      ];

      const table: string[] = [
        '| file | statement | median ms (min-max) | scans | rows written |',
        '|---|---|---|---|---|',
      ];
      for (const [file, name, call, index = 0] of cases) {
        const statement = (await capture(call))[index]!;
        const runs = [];
        for (let i = 0; i <= REPEATS; i++) runs.push(await explain(client, statement.text, statement.params));
        const timed = runs.slice(1).map((r) => r['Execution Time']);
        const { scans, written } = summarize(runs[1]!.Plan);
        const range = `${median(timed).toFixed(2)} (${Math.min(...timed).toFixed(2)}-${Math.max(...timed).toFixed(2)})`;
        table.push(`| ${file} | ${name} | ${range} | ${scans.join(', ')} | ${written} |`);
      }
      console.log(table.join('\n'));
    } finally {
      client.release();
    }
  } finally {
    await bench.dispose();
  }
}

await main();
