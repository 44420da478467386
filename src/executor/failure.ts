import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import type { TaskOutcome } from './protocol.js';

type Failure = Extract<TaskOutcome, { status: 'failed' }>;

const EXECUTOR_DIR = fileURLToPath(new URL('.', import.meta.url));
const INTERNAL_FRAME = [
  /\(node:internal\//,
  /at node:internal\//,
  /[\\/]node_modules[\\/]piscina[\\/]/,
  /[\\/]node_modules[\\/]tsx[\\/]/,
];

export function failed(error: string, retryable: boolean, stack?: string): Failure {
  return stack ? { status: 'failed', error, stack, retryable } : { status: 'failed', error, retryable };
}

/** The outcome of a try that threw `error`: its message, and its stack without Updraft's and piscina's frames. */
export function failureOf(error: unknown, retryable: boolean, prefix = ''): Failure {
  if (!(error instanceof Error))
    return failed(
      `${prefix}${typeof error === 'string' ? error : `threw a non-Error value: ${inspect(error)}`}`,
      retryable,
    );
  return failed(prefix + describe(error), retryable, stackOf(error));
}

/** 'message', or 'TypeError: message' for anything more specific than Error. */
export function describe(error: Error): string {
  const message = error.message || '(no message)';
  return error.name && error.name !== 'Error' ? `${error.name}: ${message}` : message;
}

function stackOf(error: Error): string | undefined {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = error; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    if (typeof e.stack !== 'string') continue;
    parts.push((parts.length ? 'Caused by: ' : '') + trim(e.stack));
  }
  return parts.length ? parts.join('\n') : undefined;
}

function trim(stack: string): string {
  return stack
    .split('\n')
    .filter(
      (line) => !(/^\s+at /.test(line) && (line.includes(EXECUTOR_DIR) || INTERNAL_FRAME.some((re) => re.test(line)))),
    )
    .map(cleanFileUrl)
    .join('\n');
}

/** `file:///dags/x.ts?v=abc:3:9` -> `/dags/x.ts:3:9`: the path the user knows. */
function cleanFileUrl(line: string): string {
  return line.replace(/file:\/\/[^\s)?:]+(?:\?[^\s):]*)?/g, (url) => {
    try {
      return fileURLToPath(url.replace(/\?.*$/, ''));
    } catch {
      return url;
    }
  });
}
