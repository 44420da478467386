import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { formatDuration } from '../util/duration.js';
import type { ParseOutcome } from './outcome.js';

const WORKER_URL = new URL('./parse-worker.mjs', import.meta.url);

export interface ParsedFile {
  /** Absolute path. */
  file: string;
  source: string;
  outcome: ParseOutcome;
}

/** Starts a parse thread; resolves once it has loaded tsx and Updraft and waits for a file. */
function startThread(): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { execArgv: [] });
    // An idle thread never keeps the process alive.
    worker.unref();
    worker.once('message', () => resolve(worker));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the parse thread exited (code ${code}) while starting`)));
  });
}

// One thread is kept started ahead: loading tsx and Updraft costs ~550 ms per thread
// (bench/parse, coldThreadStartMs), which a changed file then does not wait for. The
// spare is started after a parse, not during it: on 2 cores a thread starting beside
// an import tripled the import's time (bench/parse: 1,450 ms vs 430 ms).
let spare: Promise<Worker> | undefined;

/** Resolves once a parse thread is started and waiting (for benchmarks and warm starts). */
export async function parseThreadReady(): Promise<void> {
  spare ??= startThread();
  await spare;
}

function takeThread(): Promise<Worker> {
  const thread = spare ?? startThread();
  spare = undefined;
  return thread;
}

function startSpare(): void {
  if (spare) return;
  spare = startThread();
  spare.catch(() => {}); // reported to whoever takes it
}

/**
 * Parses one DAG file in a fresh worker thread. An import that takes longer than
 * `timeoutMs` (counted from when the thread is ready) is cut off and reported as an
 * error of that file.
 */
export async function parseDagFile(file: string, timeoutMs: number): Promise<ParsedFile> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (error) {
    return { file, source: '', outcome: failure(`cannot read the file: ${(error as Error).message}`) };
  }
  let worker: Worker;
  try {
    worker = await takeThread();
  } catch (error) {
    return { file, source, outcome: failure(`cannot start a parse thread: ${(error as Error).message}`) };
  }
  const outcome = await new Promise<ParseOutcome>((resolve) => {
    worker.ref();
    let settled = false;
    const settle = (result: ParseOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
      void worker.terminate();
      startSpare();
    };
    const timer = setTimeout(
      () =>
        settle(
          failure(
            `timed out after ${formatDuration(timeoutMs)} while importing (a top-level await or loop that never ends?)`,
          ),
        ),
      timeoutMs,
    );
    worker.once('message', (message: ParseOutcome) => settle(message));
    worker.once('error', (error) => settle(failure(`the file threw while loading: ${error.message}`)));
    worker.once('exit', (code) => settle(failure(`the parse thread exited (code ${code}) before reporting`)));
    worker.postMessage({ file });
  });
  return { file, source, outcome };
}

function failure(message: string): ParseOutcome {
  return { ok: false, error: { message, line: null, column: null } };
}
