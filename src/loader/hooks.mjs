// Module resolve hook: `import ... from 'updraft'` in a DAG file always means this
// Updraft, wherever the DAGs folder lives (it may have no node_modules of its own).
let updraftUrl;

export function initialize(data) {
  updraftUrl = data.updraftUrl;
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'updraft') return { url: updraftUrl, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}
