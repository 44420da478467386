/**
 * Updraft's layers, top to bottom: a module may import its own layer's folder and any
 * layer below, never one above. Same-layer folders may import each other one way only
 * (no folder cycles). src/index.ts, the public authoring API, is on top: it re-exports
 * from anywhere, and nothing imports it but the parse thread, which loads it before a DAG
 * file does. errors.ts, config.ts and log.ts at the root are the base, with util/.
 * src/state/vocabulary.ts (the task, run and backfill states) is the state layer's one file
 * that every layer may read: the database's enums are generated from it, and it imports
 * nothing. It is left out of the cruise, so reading it counts as no dependency.
 * `npm run lint` checks this (README.md, Development).
 */
const LAYERS = [
  ['cli'],
  ['web'],
  ['engine'],
  ['scheduler', 'executor', 'processor', 'events', 'backfill'],
  ['catalog'],
  ['state'],
  ['operators', 'connections', 'auth'],
  ['db'],
  ['dag', 'schedule', 'loader'],
  ['util', 'errors.ts', 'config.ts', 'log.ts'],
];

/** `^src/(a|b)(/|$)`: the files of these folders (or the root file itself). */
const pathOf = (names) => `^src/(${names.map((n) => n.replaceAll('.', '[.]')).join('|')})(/|$)`;

const upward = LAYERS.slice(1).map((layer, i) => ({
  name: `layer-${layer.join('-').replaceAll('.ts', '')}`,
  comment: `${layer.join(', ')} may not import a layer above it: ${LAYERS.slice(0, i + 1)
    .flat()
    .join(', ')}`,
  severity: 'error',
  from: { path: pathOf(layer) },
  to: { path: pathOf(LAYERS.slice(0, i + 1).flat()) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'index-on-top',
      comment:
        'src/index.ts is what DAG files import; only the parse thread loads it (first, so its import timeout counts the DAG file alone).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(index[.]ts|processor/parse-worker[.]mjs)$' },
      to: { path: '^src/index[.]ts$' },
    },
    {
      name: 'no-folder-cycle',
      comment: 'Two top-level folders of src/ may not import each other, directly or through others.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/[^/]+$' },
      to: { path: '^src/[^/]+$', circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to no file (a typo, a file moved without its importers).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/state/vocabulary[.]ts$' },
    // Type-only imports count: a layer must not even name a type from above.
    tsPreCompilationDeps: true,
    // Resolves the `.js` specifiers of the TypeScript sources to their .ts files.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
