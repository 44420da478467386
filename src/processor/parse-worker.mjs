// Worker thread that imports one DAG file and posts back its serialized DAGs.
// A fresh thread per parse: module state never leaks from one parse to the next,
// and a hanging import can be cut off by terminating the thread. The thread says
// 'ready' once Updraft itself is loaded, so the import timeout counts only the
// DAG file's own time.
import { endChildren } from '../loader/register.mjs';
import { parentPort } from 'node:worker_threads';

// Output of a DAG file's top-level code goes to stderr: stdout belongs to the CLI's result.
process.stdout.write = process.stderr.write.bind(process.stderr);

const { parseInThread } = await import('./parse-in-thread.ts');
await import('../index.ts');
parentPort.once('message', async ({ file }) => {
  const outcome = await parseInThread(file);
  // The thread is ended once it has answered: its esbuild service first, or it stays a zombie.
  await endChildren();
  parentPort.postMessage(outcome);
});
parentPort.postMessage('ready');
