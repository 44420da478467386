/**
 * Runs the `updraft` command as a user does: `node bin/updraft.mjs ...` in a child
 * process, cwd the repository, with only the environment a test gives it.
 *
 *   const { updraft, setup } = useCli({ 'my.ts': SOURCE }); // beforeAll/afterAll of this file
 *   it('...', async () => {
 *     expect(await updraft(['dags', 'list'])).toMatchObject({ code: 0 });
 *     const database = await setup().child.open();
 *   });
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { makeDagFolder, type DagFolder } from './dag-folder.js';
import { testChildDatabase, type ChildDatabase } from './db.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'updraft.mjs');
const execFileAsync = promisify(execFile);

/** A test with a few CLI runs in it: each may take several seconds on a 2-core machine. */
export const CLI_TEST_TIMEOUT = 120_000;

/** A line of a stack trace: CLI errors must not print one. */
export const STACK_FRAME = /^\s+at /m;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

// No Updraft setting (or UPDRAFT_DEBUG) of the shell that started vitest leaks into the child.
// Nor does a .env in the checkout (UPDRAFT_ENV_FILE empty: no file is read).
const baseEnv = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('UPDRAFT_') && name !== 'DATABASE_URL'),
  ),
  UPDRAFT_ENV_FILE: '',
};

/** Runs `updraft <args>` to its end; a non-zero exit is a result, not an exception. */
export async function runUpdraft(args: string[], env: Record<string, string>): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...baseEnv, ...env },
      encoding: 'utf8',
      // A child that never exits fails its test with its output instead of hanging it.
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as Error & { code?: unknown; signal?: string | null; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') {
      throw new Error(
        `updraft ${args.join(' ')} did not run to its end (${e.signal ? `killed by ${e.signal}` : String(e.code)}).\nstdout: ${e.stdout}\nstderr: ${e.stderr}`,
        {
          cause: error,
        },
      );
    }
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Rows of a table printed by formatTable: columns are at least two spaces apart. */
export function table(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {2,}/));
}

/** A local port nobody listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A PostgreSQL URL on a local port nobody listens on: a child that touches the database fails. */
export async function unreachableDatabaseUrl(): Promise<string> {
  return `postgres://updraft@127.0.0.1:${await freePort()}/updraft`;
}

export interface CliSetup {
  /** The children's database and Updraft home. */
  child: ChildDatabase;
  folder: DagFolder;
  /** Environment of a normal run: the child database, UPDRAFT_DAGS_FOLDER and the settings given to useCli. */
  env: Record<string, string>;
}

export interface CliFixture {
  /** runUpdraft with the fixture's environment, and `extraEnv` over it. */
  updraft(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** The database, folder and environment of the runs. */
  setup(): CliSetup;
}

/**
 * Registers beforeAll/afterAll hooks in the calling scope: a fresh database for child processes
 * (testChildDatabase) and a DAGs folder holding `files` (name: source), removed afterwards.
 * `env` adds settings to every run's environment. Call `updraft` and `setup` inside a test
 * or hook, once the setup ran.
 */
export function useCli(files: Record<string, string>, env: Record<string, string> = {}): CliFixture {
  let current: CliSetup | undefined;
  let folder: DagFolder | undefined;
  beforeAll(async () => {
    const child = await testChildDatabase();
    folder = await makeDagFolder(files);
    current = { child, folder, env: { ...child.env, UPDRAFT_DAGS_FOLDER: folder.path, ...env } };
  });
  afterAll(async () => {
    await folder?.cleanup();
  });
  const setup = (): CliSetup => {
    if (!current) throw new Error('useCli: not set up (call it in a test or hook, after its beforeAll ran)');
    return current;
  };
  return {
    setup,
    updraft: (args, extraEnv = {}) => runUpdraft(args, { ...setup().env, ...extraEnv }),
  };
}
