// Makes TypeScript DAG files importable in this thread: tsx for the syntax, and
// the 'updraft' alias. Plain .mjs on purpose: on Node 20 a .ts file cannot register
// tsx for itself (it is loaded before tsx is).
import { register as registerModuleHooks } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
registerModuleHooks('./hooks.mjs', import.meta.url, {
  data: { updraftUrl: new URL('../index.ts', import.meta.url).href },
});

// The child processes of the hooks thread (tsx's esbuild service): see children.mjs.
const children = new MessageChannel();
children.port1.unref();
registerModuleHooks('./children.mjs', import.meta.url, {
  data: { port: children.port2 },
  transferList: [children.port2],
});

/** Ends the hooks thread's child processes and waits for them: call it last in a thread that is about to end. */
export function endChildren() {
  return new Promise((resolve) => {
    // Held open until the answer: the thread may have nothing else left to wait for.
    children.port1.ref();
    children.port1.once('message', () => {
      children.port1.unref();
      resolve();
    });
    children.port1.postMessage('end');
  });
}
