// Callbacks (docs/callbacks.md): Airflow's on_success / on_failure / on_retry callbacks.
// Manual only; no connection needed. Run it with
//   updraft dags trigger callbacks_demo                           # 'fetch' fails once, is retried, the run succeeds
//   updraft dags trigger callbacks_demo --conf '{"failures": 5}'  # 'fetch' gives up: onFailure, then the run's onFailure
// then read `updraft tasks logs callbacks_demo latest fetch` (the callbacks' lines are under
// each try) and the process log (the run's callbacks: a run has no task log).
import { dag, type TaskCallback } from 'updraft';

// A callback gets the task's context and what happened; in real life it posts to a chat or a pager.
const announce: TaskCallback = (ctx, info) => {
  const what =
    info.state === 'up_for_retry' ? `failed (${info.error}); next try at ${info.nextTryAt?.toISOString()}` : info.state;
  ctx.log.info(`[notify] ${ctx.dagId}.${ctx.taskId} try ${info.tryNumber}/${info.maxTries}: ${what}`);
};

export default dag(
  {
    id: 'callbacks_demo',
    description: 'A flaky task with a retry, and callbacks that report each end',
    schedule: null,
    params: {
      failures: { type: 'integer', default: 1, description: "Tries of 'fetch' that fail before one succeeds" },
    },
    // Every task's callbacks, as Airflow's default_args; a task's own win.
    defaults: { onSuccess: announce, onFailure: announce, onRetry: announce },
    // The run's callbacks: once per run, when it ends.
    onSuccess: (ctx) => ctx.log.info(`[notify] run ${ctx.runId} of ${ctx.dagId} succeeded`),
    onFailure: (ctx, info) =>
      ctx.log.error(`[notify] run ${ctx.runId} of ${ctx.dagId} failed in ${info.failedTasks.join(', ')}`),
    tags: ['example', 'callbacks'],
    pausedAtCreation: false, // an example: triggered runs start at once
  },
  (t) => {
    const fetch = t.task('fetch', { retries: 1, retryDelay: '5s' }, async (ctx) => {
      if (ctx.tryNumber <= ctx.params.failures) throw new Error(`the source answered 503 on try ${ctx.tryNumber}`);
      return { rows: 42 };
    });
    const load = t.task('load', async (ctx) => ({ loaded: (await ctx.pull(fetch)).rows }));
    fetch.then(load);
  },
);
