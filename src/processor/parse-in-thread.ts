import { pathToFileURL } from 'node:url';
import { isDag, type Dag } from '../dag/builder.js';
import { DagDefinitionError } from '../errors.js';
import type { ErrorLocation, ParseOutcome } from './outcome.js';

/** Imports a DAG file and serializes every DAG it exports (default or named). */
export async function parseInThread(file: string): Promise<ParseOutcome> {
  const started = performance.now();
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    return { ok: false, error: { message: describe(error), ...locate(error, file) } };
  }
  const importMs = performance.now() - started;

  const dags = new Map<string, Dag>();
  for (const value of Object.values(module)) {
    if (!isDag(value)) continue;
    const seen = dags.get(value.id);
    if (seen && seen !== value) {
      return {
        ok: false,
        error: { message: `DAG id '${value.id}' is defined twice in this file`, line: null, column: null },
      };
    }
    dags.set(value.id, value);
  }

  const serializeStarted = performance.now();
  const serialized = [...dags.values()].map((d) => d.serialize());
  const validateMs = [...dags.values()].reduce((sum, d) => sum + d.validateMs, 0);
  return {
    ok: true,
    dags: serialized,
    timings: { importMs, validateMs, serializeMs: performance.now() - serializeStarted },
  };
}

// Loaded as CommonJS only under a package.json saying "type": "commonjs" (src/loader/hooks.mjs).
const ESM_HINT =
  'DAG files are ES modules: remove "type": "commonjs" from the package.json above the DAGs folder, or name the files .mts';

function describe(error: unknown): string {
  if (error instanceof DagDefinitionError) return error.message;
  // Under "type": "commonjs" a .ts file is loaded as CommonJS, which cannot load Updraft.
  const code = (error as { code?: unknown } | null)?.code;
  if (
    code === 'ERR_REQUIRE_ESM' ||
    code === 'ERR_REQUIRE_CYCLE_MODULE' ||
    /Cannot require\(\) ES Module/.test(String((error as Error)?.message))
  ) {
    return `${(error as Error).message.split('\n')[0]} (${ESM_HINT})`;
  }
  if (error instanceof Error) {
    // esbuild's syntax errors list their own locations; keep the first line short.
    return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message.split('\n').slice(0, 3).join(' ').trim()}`;
  }
  return String(error);
}

/** The first stack frame (or esbuild location) inside the DAG file itself. */
function locate(error: unknown, file: string): ErrorLocation {
  const texts: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) texts.push(`${e.message}\n${e.stack ?? ''}`);
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`${escaped}(?:\\?[^:)\\s]*)?:(\\d+):(\\d+)`);
  for (const text of texts) {
    const match = pattern.exec(text.replaceAll(pathToFileURL(file).href, file));
    if (match) return { line: Number(match[1]), column: Number(match[2]) };
  }
  return { line: null, column: null };
}
