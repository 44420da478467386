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
}

const booleanText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: "expected 'true' or 'false'" })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const envSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// URL' }).optional(),
  UPDRAFT_HOME: z.string().min(1).optional(),
  UPDRAFT_DAGS_FOLDER: z.string().min(1).optional(),
  UPDRAFT_DAGS_PAUSED_AT_CREATION: booleanText.optional(),
  UPDRAFT_DAG_IMPORT_TIMEOUT: durationField.optional(),
  UPDRAFT_DAGS_POLL_INTERVAL: durationField.optional(),
  UPDRAFT_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) throw new ConfigError(`invalid environment: ${describeIssues(parsed.error)}`);
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    home: path.resolve(cwd, e.UPDRAFT_HOME ?? '.updraft'),
    dagsFolder: path.resolve(cwd, e.UPDRAFT_DAGS_FOLDER ?? 'dags'),
    pausedAtCreation: e.UPDRAFT_DAGS_PAUSED_AT_CREATION ?? true,
    importTimeoutMs: e.UPDRAFT_DAG_IMPORT_TIMEOUT ?? 30_000,
    dagsPollMs: e.UPDRAFT_DAGS_POLL_INTERVAL ?? 1_000,
    logLevel: e.UPDRAFT_LOG_LEVEL ?? 'info',
  };
}
