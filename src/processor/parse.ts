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
  const outcome = await new Promise<ParseOutcome>((resolve) => {
    const worker = new Worker(WORKER_URL, { execArgv: [], stdout: true, stderr: true });
    // Output of a DAG file's top-level code goes to stderr: stdout belongs to the CLI's result.
    worker.stdout.pipe(process.stderr);
    worker.stderr.pipe(process.stderr);
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (result: ParseOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
      void worker.terminate();
    };
    worker.on('message', (message: 'ready' | ParseOutcome) => {
      if (message !== 'ready') return settle(message);
      worker.postMessage({ file });
      timer = setTimeout(
        () => settle(failure(`timed out after ${formatDuration(timeoutMs)} while importing (a top-level await or loop that never ends?)`)),
        timeoutMs,
      );
    });
    worker.once('error', (error) => settle(failure(`the file threw while loading: ${error.message}`)));
    worker.once('exit', (code) => settle(failure(`the parse thread exited (code ${code}) before reporting`)));
  });
  return { file, source, outcome };
}

function failure(message: string): ParseOutcome {
  return { ok: false, error: { message, line: null, column: null } };
}
