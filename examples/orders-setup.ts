/**
 * `npm run example`: everything the orders_pipeline example DAG needs, then one run of it.
 *
 * 1. Creates two databases on a local PostgreSQL: updraft_example_shop (a week of
 *    order events with realistic dirt: stray whitespace and mixed case, placeholder
 *    countries, amounts that are not numbers, impossible dates, unknown statuses and
 *    several events per order) and updraft_example_warehouse (empty).
 * 2. Writes the connections 'shop' and 'warehouse' to .env (UPDRAFT_CONN_SHOP, ...),
 *    which every `updraft` command (and `npm start`) reads.
 * 3. Unpauses orders_pipeline and runs it for each day of that week with
 *    `updraft dags test`, then lists the report the last run made.
 *
 * EXAMPLE_DATABASE_URL picks the server (default postgres://postgres@127.0.0.1:5432/postgres);
 * running it again recreates both databases.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { maskUrl } from '../src/util/mask.js';
import { quoteIdent } from '../src/db/quote.js';
import { createOrderEvents } from './orders-data.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_URL = process.env.EXAMPLE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASES = { shop: 'updraft_example_shop', warehouse: 'updraft_example_warehouse' } as const;
const ORDERS = 20_000;
/** Days of orders generated, and of runs made. */
const DAYS = 7;

function urlOf(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    const e = error as Error & { code?: string; errors?: Error[] };
    const why = e.message || e.errors?.map((x) => x.message).join('; ') || e.code;
    throw new Error(
      `cannot reach PostgreSQL at ${maskUrl(url)}: ${why}\n` +
        'Start a PostgreSQL server, or point EXAMPLE_DATABASE_URL at one where you may create databases ' +
        '(with Docker: `docker compose up -d postgres` and EXAMPLE_DATABASE_URL=postgres://updraft:updraft@localhost:5432/updraft).',
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createDatabases(): Promise<void> {
  await withClient(ADMIN_URL, async (admin) => {
    for (const name of Object.values(DATABASES)) {
      await admin.query(`drop database if exists ${quoteIdent(name)} with (force)`);
      await admin.query(`create database ${quoteIdent(name)}`);
    }
  });
}

async function fillShop(): Promise<number> {
  return withClient(urlOf(DATABASES.shop), (shop) => createOrderEvents(shop, ORDERS, DAYS));
}

/** Sets KEY=value lines in .env, keeping every other line. */
function writeEnv(values: Record<string, string>): string {
  const file = path.join(ROOT, '.env');
  const lines = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
  const kept = lines.filter((line) => !Object.keys(values).some((key) => line.startsWith(`${key}=`)));
  writeFileSync(file, `${[...kept, ...Object.entries(values).map(([k, v]) => `${k}=${v}`)].join('\n')}\n`, {
    mode: 0o600,
  });
  return file;
}

/** Runs `updraft <args>`; with 'pipe', returns its stdout instead of showing it. */
function updraft(args: string[], env: Record<string, string>, stdout: 'inherit' | 'pipe' = 'inherit'): string {
  console.log(`\n$ updraft ${args.join(' ')}`);
  try {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'bin', 'updraft.mjs'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', stdout, 'inherit'],
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    return out ?? '';
  } catch (error) {
    // `dags test --json` exits 1 for a failed run and still prints its result.
    const printed = (error as { stdout?: string }).stdout;
    if (stdout === 'pipe' && printed) return printed;
    throw new Error(`updraft ${args.join(' ')} failed (see above)`);
  }
}

async function main(): Promise<void> {
  console.log(`creating ${DATABASES.shop} and ${DATABASES.warehouse} on ${maskUrl(ADMIN_URL)}`);
  await createDatabases();
  const events = await fillShop();
  console.log(
    `${DATABASES.shop}: ${events} order events for ${ORDERS} orders over the last ${DAYS} days, some of them dirty`,
  );
  const connections = { UPDRAFT_CONN_SHOP: urlOf(DATABASES.shop), UPDRAFT_CONN_WAREHOUSE: urlOf(DATABASES.warehouse) };
  console.log(`connections written to ${writeEnv(connections)}`);

  try {
    updraft(['dags', 'unpause', 'orders_pipeline'], connections);
    // One run per day of the generated week, oldest first, as a backfill would: each
    // aggregates the day before its date, and the last one's report charts them all.
    // At 00:30, not midnight: the schedule's own logical dates stay free for `npm start`.
    for (let daysAgo = DAYS - 1; daysAgo >= 0; daysAgo--) {
      const day = new Date(Math.floor(Date.now() / 86_400_000 - daysAgo) * 86_400_000).toISOString().slice(0, 10);
      const args = ['dags', 'test', 'orders_pipeline', `${day}T00:30:00Z`, '--json'];
      const result = JSON.parse(updraft(args, connections, 'pipe')) as {
        runId: string;
        state: string;
        tasks: { taskId: string; state: string; durationMs: number }[];
      };
      console.log(
        `${result.runId}: ${result.state} (${result.tasks.map((t) => `${t.taskId} ${t.state} ${t.durationMs} ms`).join(', ')})`,
      );
      if (result.state !== 'success')
        throw new Error(
          `the run for ${day} failed: see \`npx updraft tasks logs orders_pipeline ${result.runId} <task>\``,
        );
    }
    updraft(['reports', 'list', '--dag', 'orders_pipeline', '--limit', '1'], connections);
  } catch (error) {
    console.error(`\n${(error as Error).message}`);
    console.error(
      '\nThe databases and .env are ready, but running the DAG here failed (see above). If `npm start` is running on the\n' +
        'embedded database, it holds it: stop it and run `npm run example` again, or just restart `npm start`.',
    );
    process.exitCode = 1;
    return;
  }
  console.log(
    '\nDone. Save the report with `npx updraft reports show <id> --output report.html` (id above) and open it.\n' +
      '`npm start` now runs orders_pipeline every day; restart it if it was running, so that it reads .env.',
  );
}

main().catch((error: Error) => {
  console.error(`example: ${error.message}`);
  process.exitCode = 1;
});
