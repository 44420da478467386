// Piscina worker entry: runs one task try per call. Plain .mjs on purpose: on Node 20 a
// .ts file cannot register tsx for itself (it is loaded before tsx is). Loading tsx and
// Updraft happens once per thread, before piscina hands it its first task.
import { endChildren } from '../loader/register.mjs';

const { runTask, listenForClose } = await import('./run-task.ts');
// When the pool ends this thread: its connections, then its esbuild service.
listenForClose(endChildren);

/** @param {import('./protocol.ts').TaskPayload} payload */
export default function run(payload) {
  return runTask(payload);
}
