// Piscina worker entry: runs one task try per call. Plain .mjs on purpose: a .ts
// file cannot register tsx for itself on Node 20 (see STACK.md). Loading tsx and
// Updraft happens once per thread, before piscina hands it its first task.
import '../loader/register.mjs';

const { runTask } = await import('./run-task.ts');

/** @param {import('./protocol.ts').TaskPayload} payload */
export default function run(payload) {
  return runTask(payload);
}
