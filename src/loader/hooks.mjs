// Module hooks for DAG files, in every thread that imports them (register.mjs).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let updraftUrl;

export function initialize(data) {
  updraftUrl = data.updraftUrl;
}

// `import ... from 'updraft'` in a DAG file always means this Updraft, wherever the
// DAGs folder lives (it may have no node_modules of its own).
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'updraft') return { url: updraftUrl, format: 'module', shortCircuit: true };
  const resolved = await nextResolve(specifier, context);
  return isEsModule(resolved) ? { ...resolved, format: 'module' } : resolved;
}

export async function load(url, context, nextLoad) {
  return nextLoad(url, isEsModule({ url, format: context.format }) ? { ...context, format: 'module' } : context);
}

const SOURCE = /\.(ts|mts|tsx|js|jsx)$/;

/**
 * DAG files (and what they import outside node_modules) are ES modules wherever they
 * are: a DAGs folder with no package.json (or one without "type") would otherwise load
 * them as CommonJS, which cannot import Updraft ("Cannot require() ES Module ... in a
 * cycle"). A package.json that says "type": "commonjs" is obeyed; .cjs/.cts stay CommonJS.
 */
function isEsModule({ url, format }) {
  if (format === 'module' || !url?.startsWith('file:')) return false;
  const file = fileURLToPath(url);
  if (!SOURCE.test(file) || file.split(path.sep).includes('node_modules')) return false;
  return packageType(path.dirname(file)) !== 'commonjs';
}

const types = new Map();

/** The "type" of the nearest package.json above `dir` (undefined: none says). */
function packageType(dir) {
  if (types.has(dir)) return types.get(dir);
  let type;
  try {
    const json = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    type = typeof json?.type === 'string' ? json.type : null;
  } catch {
    const parent = path.dirname(dir);
    type = parent === dir ? null : packageType(parent);
  }
  types.set(dir, type);
  return type;
}
