/**
 * node-postgres settings that put the session limits (session-limits.ts) on every
 * connection Updraft opens to a real PostgreSQL: the pool's, the LISTEN connection's and
 * the migration's.
 */
import pg from 'pg';
import type { SessionLimits } from './session-limits.js';

/**
 * Startup parameters: the server applies them before the first statement, so they cost no
 * round trip. Every session in UTC, as the embedded database is, so that SQL which renders
 * or truncates times agrees on both drivers. The server-side keepalive lets PostgreSQL
 * notice a vanished client (and end its session) as fast as the client notices a vanished
 * server. An `options` in DATABASE_URL takes precedence over all of these.
 */
export function startupOptions(limits: SessionLimits): string {
  const settings: Array<[string, string | number]> = [
    ['TimeZone', 'UTC'],
    ['idle_in_transaction_session_timeout', limits.idleInTransactionMs],
    ['lock_timeout', limits.lockMs],
    ['statement_timeout', limits.statementMs],
    ['tcp_keepalives_idle', Math.floor(limits.keepAliveIdleMs / 1000)],
    ['tcp_keepalives_interval', 1],
    ['tcp_keepalives_count', 10],
  ];
  return settings.map(([name, value]) => `-c ${name}=${value}`).join(' ');
}

/**
 * The pool settings for `limits`. The connect timeout goes on each client (a Client class
 * of the pool), not on the pool: pg-pool would also apply its `connectionTimeoutMillis` to
 * a wait for a free connection, and a busy pool is no fault.
 */
export function sessionPoolConfig(limits: SessionLimits): pg.PoolConfig {
  const connectMs = limits.connectMs;
  class SessionClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super({
        ...(typeof config === 'string' ? { connectionString: config } : config),
        connectionTimeoutMillis: connectMs,
      });
    }
  }
  return {
    options: startupOptions(limits),
    keepAlive: true,
    keepAliveInitialDelayMillis: limits.keepAliveIdleMs,
    query_timeout: limits.queryMs,
    Client: SessionClient as unknown as pg.PoolConfig['Client'],
  };
}

/**
 * A connection of its own beside `pool` (LISTEN, migrations), with the pool's settings:
 * the same server, user and limits, and the same connect timeout when the pool has one.
 * `overrides` replace settings, e.g. `query_timeout` for a migration.
 */
export function dedicatedClient(pool: pg.Pool, overrides: pg.ClientConfig = {}): pg.Client {
  const Client = ((pool.options as { Client?: typeof pg.Client }).Client ?? pg.Client) as typeof pg.Client;
  return new Client({ ...(pool.options as pg.ClientConfig), ...overrides });
}

/**
 * Destroys a pooled connection handed back while a query on it is still unanswered.
 *
 * node-postgres's query_timeout (client.js, `Query read timeout`) fails the caller's
 * promise but leaves the query active on the connection: the client stays "queryable",
 * and every later query on it queues behind the one that never answers. pool.query
 * releases such a client with the error, so the pool drops it; but drizzle's transaction
 * releases its client without an error (its rollback timed out behind the stuck query
 * too), and the pool would hand the broken client to the next caller. Ending it here
 * marks it `_ending`, which pg-pool checks right after the 'release' event, so the pool
 * drops it and opens a fresh connection. node-postgres 8.23; `_getActiveQuery` is private,
 * test/postgres/session-limits.test.ts pins this behaviour.
 */
export function dropStuckClients(pool: pg.Pool): void {
  pool.on('release', (err: Error | undefined, client: pg.PoolClient) => {
    const active = (client as unknown as { _getActiveQuery?: () => unknown })._getActiveQuery?.();
    if (!err && active) void client.end();
  });
}
