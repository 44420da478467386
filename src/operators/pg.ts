/**
 * PostgreSQL plumbing shared by the operators, in the task thread: one small pool per
 * connection per thread, clients that cancel their query on the server when the task
 * is aborted, and driver errors turned into OperatorErrors that name the field.
 */
import pg from 'pg';
import { maskUrl, rememberSecretsOf } from '../util/mask.js';
import { pgMessage } from '../db/errors.js';
import { quoteIdent } from '../db/quote.js';
import { OperatorError } from './types.js';

/** Connections per pool and thread: a task uses one or two at a time (a sync reads one and writes another). */
const POOL_SIZE = 4;

const pools = new Map<string, { url: string; pool: pg.Pool }>();

/** The thread's pool for `name` at `url`; a changed URL gets a new pool. */
export function poolFor(name: string, url: string): pg.Pool {
  const known = pools.get(name);
  if (known?.url === url) return known.pool;
  if (known) void known.pool.end().catch(() => {});
  rememberSecretsOf(url);
  // A host that drops packets fails the connect after 10 s instead of the OS's TCP timeout (minutes).
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: 'updraft',
  });
  // An idle client whose server went away must not crash the thread.
  pool.on('error', () => {});
  pools.set(name, { url, pool });
  return pool;
}

/** Ends every pool of this thread (on shutdown). */
export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.allSettled(all.map(({ pool }) => pool.end()));
}

/** Where a connection points, password masked, for messages. */
export function describePool(pool: pg.Pool): string {
  const url = (pool.options as { connectionString?: string }).connectionString;
  return url ? maskUrl(url) : 'database';
}

/**
 * Runs `fn` with a client of `pool`. If `signal` aborts meanwhile, the running query is
 * cancelled on the server (pg_cancel_backend from a separate connection) and the client
 * is discarded rather than returned to the pool.
 */
export async function withClient<T>(
  pool: pg.Pool,
  signal: AbortSignal,
  what: { operator: string; field: string; conn: string },
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  signal.throwIfAborted();
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new OperatorError(
      what.operator,
      what.field,
      `cannot reach connection '${what.conn}' (${describePool(pool)}): ${pgMessage(error)}`,
      true,
      { cause: error },
    );
  }
  const pid = (client as unknown as { processID: number | null }).processID;
  const cancel = () => void cancelBackend(pool, pid);
  signal.addEventListener('abort', cancel, { once: true });
  let broken: Error | undefined;
  try {
    const result = await fn(client);
    // The next task (maybe another DAG's) gets this session: nothing set here may follow it
    // (SET ROLE, search_path, temp tables). DISCARD ALL fails inside an open transaction:
    // a client left in one is dropped instead (the work itself succeeded).
    await client.query('discard all').catch((error: Error) => (broken = error));
    return result;
  } catch (error) {
    broken = error as Error;
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
    throw error;
  } finally {
    signal.removeEventListener('abort', cancel);
    // A client whose work failed midway may hold an open transaction or COPY: drop it.
    client.release(broken ?? (signal.aborted ? true : undefined));
  }
}

async function cancelBackend(pool: pg.Pool, pid: number | null): Promise<void> {
  if (!pid) return;
  const url = (pool.options as { connectionString?: string }).connectionString;
  const canceller = new pg.Client({ connectionString: url, application_name: 'updraft-cancel' });
  try {
    await canceller.connect();
    await canceller.query('select pg_cancel_backend($1)', [pid]);
  } catch {
    // The query ends anyway when the task's thread is terminated after the abort grace.
  } finally {
    await canceller.end().catch(() => {});
  }
}

/**
 * COMMIT, unless the task was aborted meanwhile: an abort that reached the server while
 * it was idle between statements cancelled nothing, so the work must not commit now.
 * (The client is then discarded by withClient, which rolls the transaction back.)
 */
export async function commitUnlessAborted(client: pg.ClientBase, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  await client.query('commit');
}

/** SQLSTATEs a retry may fix: connection trouble, serialization failures, deadlocks, shutdowns. */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('08') ||
    code === '40001' ||
    code === '40P01' ||
    code.startsWith('57P') ||
    code === '53300' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'].includes(code)
  );
}

/** Wraps a driver error in an OperatorError naming the field; OperatorErrors and aborts pass through. */
export function fieldError(operator: string, field: string, error: unknown): Error {
  if (error instanceof OperatorError) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  return new OperatorError(operator, field, pgMessage(error), isTransient(error), { cause: error });
}

/** The statement that creates the schema of a schema-qualified table ('staging.orders') if missing; none for a bare name. */
export function createSchemaOf(table: string): string[] {
  const parts = table.split('.');
  return parts.length === 2 ? [`create schema if not exists ${quoteIdent([parts[0]!])}`] : [];
}
