import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { describeIssues, durationField } from './util/validation.js';

/** Settings read from the environment; each variable is documented in docs/configuration.md. */
export interface Config {
  /** PostgreSQL URL; unset means the embedded PGlite database under `home`. */
  databaseUrl: string | undefined;
  /** Where the embedded database and local state live (UPDRAFT_HOME, default ./.updraft). */
  home: string;
  /** Folder scanned for DAG files (UPDRAFT_DAGS_FOLDER, default ./dags). */
  dagsFolder: string;
  /** New DAGs start paused (UPDRAFT_DAGS_PAUSED_AT_CREATION, default true, as in Airflow). */
  pausedAtCreation: boolean;
  /** An import of a DAG file taking longer is cut off (UPDRAFT_DAG_IMPORT_TIMEOUT, default 30s). */
  importTimeoutMs: number;
  /** How often the DAGs folder is checked for changes (UPDRAFT_DAGS_POLL_INTERVAL, default 1s). */
  dagsPollMs: number;
  logLevel: string;
  /** Task threads of this process (UPDRAFT_CONCURRENCY, default: the number of CPUs). */
  concurrency: number;
  /** Queues this process's executor serves (UPDRAFT_QUEUES, comma-separated, default 'default'). */
  queues: string[];
  /** How often running tasks are marked alive (UPDRAFT_HEARTBEAT_INTERVAL, default 5s). */
  heartbeatMs: number;
  /**
   * A task without a heartbeat this long is taken from its process: handed back, or failed or retried (UPDRAFT_HEARTBEAT_TIMEOUT,
   * default 120s, or 3 heartbeat intervals if longer). Also sets the database session
   * limits (db/session-limits.ts).
   */
  heartbeatTimeoutMs: number;
  /** The scheduler's safety-net poll (UPDRAFT_SCHEDULER_POLL_INTERVAL, default 5s); events drive it otherwise. */
  schedulerPollMs: number;
  /** How long a stopping process lets running tasks finish (UPDRAFT_SHUTDOWN_GRACE, default 30s). */
  shutdownGraceMs: number;
  /** `updraft backfill` without a terminal: at most one progress line per this long (UPDRAFT_PROGRESS_INTERVAL, default 5s). */
  progressIntervalMs: number;
  /** Web server address (UPDRAFT_HOST, default 127.0.0.1; UPDRAFT_PORT, default 8080). */
  host: string;
  port: number;
  /**
   * Whether the web UI and API may be read without logging in; changes always need a login.
   * UPDRAFT_AUTH_READ; by default 'open' when `host` is a loopback address, else 'closed'
   * (readAccessFor). A server started on another address (--host) uses `withHost`.
   */
  authRead: 'open' | 'closed';
  /** UPDRAFT_AUTH_READ as set, undefined when unset (the default then depends on the address). */
  authReadSetting?: 'open' | 'closed';
  /** How long a web login lasts (UPDRAFT_SESSION_TTL, default 12h). */
  sessionTtlMs: number;
}

/**
 * Long enough to ride through a managed PostgreSQL failover (vendors document roughly
 * 60-120 s) without reaping tasks that are still running; Airflow's own task heartbeat
 * timeout defaults to 300 s. The price: a killed worker's tasks wait this long to be retried.
 */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 120_000;

const booleanText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: "expected 'true' or 'false'" })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// URL' })
    .optional(),
  UPDRAFT_HOME: z.string().min(1).optional(),
  UPDRAFT_DAGS_FOLDER: z.string().min(1).optional(),
  UPDRAFT_DAGS_PAUSED_AT_CREATION: booleanText.optional(),
  UPDRAFT_DAG_IMPORT_TIMEOUT: durationField.optional(),
  UPDRAFT_DAGS_POLL_INTERVAL: durationField.optional(),
  UPDRAFT_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  UPDRAFT_CONCURRENCY: z.coerce.number().int().min(1).max(1024).optional(),
  UPDRAFT_QUEUES: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((q) => q.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string()).min(1, { message: 'name at least one queue' }))
    .optional(),
  UPDRAFT_HEARTBEAT_INTERVAL: durationField.optional(),
  UPDRAFT_HEARTBEAT_TIMEOUT: durationField.optional(),
  UPDRAFT_SCHEDULER_POLL_INTERVAL: durationField.optional(),
  UPDRAFT_SHUTDOWN_GRACE: durationField.optional(),
  UPDRAFT_PROGRESS_INTERVAL: durationField.optional(),
  UPDRAFT_HOST: z.string().min(1).optional(),
  UPDRAFT_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  UPDRAFT_AUTH_READ: z.enum(['open', 'closed'], { message: "expected 'open' or 'closed'" }).optional(),
  // Browsers cap a cookie's lifetime at 400 days.
  UPDRAFT_SESSION_TTL: durationField
    .pipe(
      z
        .number()
        .min(60_000, { message: 'must be at least 1m' })
        .max(400 * 86_400_000, { message: 'must be at most 400d' }),
    )
    .optional(),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) throw new ConfigError(`invalid environment: ${describeIssues(parsed.error)}`);
  const e = parsed.data;
  const heartbeatMs = e.UPDRAFT_HEARTBEAT_INTERVAL ?? 5_000;
  const heartbeatTimeoutMs = e.UPDRAFT_HEARTBEAT_TIMEOUT ?? Math.max(DEFAULT_HEARTBEAT_TIMEOUT_MS, heartbeatMs * 3);
  if (heartbeatMs * 2 > heartbeatTimeoutMs) {
    throw new ConfigError(
      `invalid environment: UPDRAFT_HEARTBEAT_TIMEOUT (${heartbeatTimeoutMs} ms) must be at least twice UPDRAFT_HEARTBEAT_INTERVAL (${heartbeatMs} ms), or live tasks would be reaped`,
    );
  }
  const host = e.UPDRAFT_HOST ?? '127.0.0.1';
  return {
    databaseUrl: e.DATABASE_URL,
    home: path.resolve(cwd, e.UPDRAFT_HOME ?? '.updraft'),
    dagsFolder: path.resolve(cwd, e.UPDRAFT_DAGS_FOLDER ?? 'dags'),
    pausedAtCreation: e.UPDRAFT_DAGS_PAUSED_AT_CREATION ?? true,
    importTimeoutMs: e.UPDRAFT_DAG_IMPORT_TIMEOUT ?? 30_000,
    dagsPollMs: e.UPDRAFT_DAGS_POLL_INTERVAL ?? 1_000,
    logLevel: e.UPDRAFT_LOG_LEVEL ?? 'info',
    concurrency: e.UPDRAFT_CONCURRENCY ?? os.availableParallelism(),
    queues: e.UPDRAFT_QUEUES ?? ['default'],
    heartbeatMs,
    heartbeatTimeoutMs,
    schedulerPollMs: e.UPDRAFT_SCHEDULER_POLL_INTERVAL ?? 5_000,
    shutdownGraceMs: e.UPDRAFT_SHUTDOWN_GRACE ?? 30_000,
    progressIntervalMs: e.UPDRAFT_PROGRESS_INTERVAL ?? 5_000,
    host,
    port: e.UPDRAFT_PORT ?? 8080,
    authRead: readAccessFor(host, e.UPDRAFT_AUTH_READ),
    authReadSetting: e.UPDRAFT_AUTH_READ,
    sessionTtlMs: e.UPDRAFT_SESSION_TTL ?? 12 * 3_600_000,
  };
}

/** True for an address only this machine can reach: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Who may read the web UI and API of a server listening on `host`: as UPDRAFT_AUTH_READ
 * says when it is set; else anyone on loopback (a standalone on 127.0.0.1 is one user's),
 * and only signed-in users on any other address, as Airflow requires a login by default.
 */
export function readAccessFor(host: string, setting: 'open' | 'closed' | undefined): 'open' | 'closed' {
  return setting ?? (isLoopbackHost(host) ? 'open' : 'closed');
}

/** The config of a server listening on `host` (a --host flag): the host, and the read access that follows from it. */
export function withHost(config: Config, host: string): Config {
  return { ...config, host, authRead: readAccessFor(host, config.authReadSetting) };
}
