// Module hooks with no hook of their own: they run in the thread where Node runs the
// module hooks (tsx's included), and end the child processes started there. tsx's
// esbuild service is such a child. A thread that ends (a parse thread ends after each
// parse) takes its event loop with it, so the service, exiting on its closed stdin, was
// never waited for: one zombie `esbuild` per parse of a changed file. endChildren()
// (register.mjs) asks for them to be ended and waited for while the loop still runs.
import childProcess from 'node:child_process';

const children = new Set();
const spawn = childProcess.spawn;
// esbuild calls child_process.spawn when its service starts: tracked from then on.
childProcess.spawn = function trackedSpawn(...args) {
  const child = spawn.apply(this, args);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};

function ended(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill();
  });
}

export function initialize({ port }) {
  port.on('message', async () => {
    await Promise.all([...children].map(ended));
    port.postMessage('ended');
  });
  // Never what keeps the hooks thread alive.
  port.unref();
}
