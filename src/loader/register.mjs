// Makes TypeScript DAG files importable in this thread: tsx for the syntax, and
// the 'updraft' alias. Plain .mjs on purpose: a .ts file cannot register tsx for
// itself on Node 20 (see STACK.md).
import { register as registerModuleHooks } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
registerModuleHooks('./hooks.mjs', import.meta.url, {
  data: { updraftUrl: new URL('../index.ts', import.meta.url).href },
});
