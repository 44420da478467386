/**
 * Long-running `updraft` processes (standalone, scheduler) as children of the test,
 * to kill -9 and restart, or to run side by side; and waiting on the files their
 * tasks write. Stop every child in afterEach/afterAll: `stopAll()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'updraft.mjs');

// No Updraft setting of the shell that started vitest leaks into the child.
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('UPDRAFT_') && name !== 'DATABASE_URL'),
);

export interface UpdraftProcess {
  pid: number;
  /** Resolves once the process printed that it runs; rejects if it exits first. */
  ready: Promise<void>;
  /** Resolves when the process has exited, with its code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** Resolves once the output so far matches `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<void>;
  /** Sends `signal` (Ctrl-C is SIGINT) without waiting. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful stop), and wait for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<UpdraftProcess>();

/**
 * Starts `updraft <args>` (e.g. ['standalone']) with only the environment given; `nodeArgs`
 * are node's own options (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow).
 */
export function startUpdraft(args: string[], env: Record<string, string>, nodeArgs: string[] = []): UpdraftProcess {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
    cwd: ROOT,
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    child.emit('output');
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const waitFor = (pattern: RegExp, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return;
        child.off('output', check);
        resolve();
      };
      child.on('output', check);
      check();
      void exited.then(({ code, signal }) =>
        reject(new Error(`updraft ${args.join(' ')} exited (${signal ?? code}) before ${what}:\n${output}`)),
      );
    });
  const ready = waitFor(/Updraft is running/, 'it ran');
  ready.catch(() => {});
  const proc: UpdraftProcess = {
    pid: child.pid!,
    ready,
    exited,
    output: () => output,
    waitFor: (pattern) => waitFor(pattern, `printing ${pattern}`),
    signal: (signal) => void child.kill(signal),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      started.delete(proc);
    },
    async stop(timeoutMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
        started.delete(proc);
      }
    },
  };
  started.add(proc);
  return proc;
}

/** Kills whatever startUpdraft started and is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((p) => p.kill()));
}

/**
 * Waits until `check` accepts the content of `file` (missing: ''). Tasks in a child process
 * report through files; they are read every 50 ms until `timeoutMs`, then the wait fails
 * with `describe()` (e.g. the child's output).
 */
export async function untilFile(
  file: string,
  check: (content: string) => boolean,
  timeoutMs: number,
  describe: () => string = () => '',
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const content = await readFile(file, 'utf8').catch(() => '');
    if (check(content)) return content;
    if (Date.now() > deadline)
      throw new Error(
        `${file} did not reach the expected content within ${timeoutMs} ms; it has:\n${content}\n${describe()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
