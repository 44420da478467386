/**
 * The run page (/ui/dags/:dagId/runs/:runId): the run's details with the operator's
 * actions its state allows (mark success, mark failed, cancel), its tasks and a Gantt
 * chart, all three live fragments (?fragment=header|tasks|gantt answer only the fragment's
 * inner HTML). The task
 * instance pages (task-instance.tsx) are mounted with it.
 */
import { Hono, type Context } from 'hono';
import { actorOf } from '../../../auth/index.js';
import { cancelRun, markRun } from '../../../state/mark.js';
import type { Engine } from '../../../engine/engine.js';
import { NotFoundError, UpdraftError } from '../../../errors.js';
import { CsrfField, Layout, StateBadge, type PageContext } from '../layout.js';
import { DatasetEventsTable } from './datasets.js';
import { Gantt } from './gantt.js';
import { canOperate, enc, operateGate, pageErrors, pageOf, prettyJson, readGate, span, Time } from './kit.js';
import { loadRun, type RunView } from './run-data.js';
import { taskInstancePages } from './task-instance.js';
import { formatElapsed } from '../../../util/duration.js';

export const runPath = (dagId: string, runId: string) => `/ui/dags/${enc(dagId)}/runs/${enc(runId)}`;
export const taskPath = (dagId: string, runId: string, taskId: string) =>
  `${runPath(dagId, runId)}/tasks/${enc(taskId)}`;

/** The run page of an action's path (…/mark, …/cancel). */
const runPageOf = (path: string) => path.replace(/\/(mark|cancel)$/, '');

export function runPages(engine: Engine): Hono {
  const db = engine.database.db;
  const app = new Hono();
  app.onError(pageErrors(engine));

  app.get('/ui/dags/:dagId/runs/:runId', readGate(engine), async (c) => {
    const view = await loadRun(db, c.req.param('dagId'), c.req.param('runId'));
    const now = new Date();
    const fragment = c.req.query('fragment');
    if (fragment === 'header') return c.html(<RunHeader page={pageOf(c)} view={view} now={now} />);
    if (fragment === 'tasks') return c.html(<TasksTable view={view} now={now} />);
    if (fragment === 'gantt') return c.html(<Gantt tasks={ganttRows(view.tasks)} now={now} />);
    return c.html(<RunPage page={pageOf(c)} view={view} now={now} />);
  });

  const operate = operateGate(runPageOf);
  app.post('/ui/dags/:dagId/runs/:runId/mark', operate, async (c) => {
    const { dagId, runId } = c.req.param();
    const state = (await c.req.parseBody()).state;
    if (state !== 'success' && state !== 'failed')
      return rerender(c, dagId, runId, `mark: state must be 'success' or 'failed', not '${String(state)}'`, 400);
    return act(c, dagId, runId, () => markRun(db, dagId, runId, state, { actor: actorOf(c.get('user')!) }));
  });
  app.post('/ui/dags/:dagId/runs/:runId/cancel', operate, async (c) => {
    const { dagId, runId } = c.req.param();
    return act(c, dagId, runId, () => cancelRun(db, dagId, runId, { actor: actorOf(c.get('user')!) }));
  });

  /** Runs the action, then back to the run page; a refusal (UpdraftError) is shown on the page with 409. */
  async function act(c: Context, dagId: string, runId: string, action: () => Promise<unknown>): Promise<Response> {
    try {
      await action();
    } catch (error) {
      if (error instanceof UpdraftError && !(error instanceof NotFoundError))
        return rerender(c, dagId, runId, error.message, 409);
      throw error;
    }
    return c.redirect(runPath(dagId, runId), 303);
  }

  async function rerender(
    c: Context,
    dagId: string,
    runId: string,
    notice: string,
    status: 400 | 409,
  ): Promise<Response> {
    const view = await loadRun(db, dagId, runId);
    return c.html(
      <RunPage page={{ ...pageOf(c), path: runPath(dagId, runId) }} view={view} now={new Date()} error={notice} />,
      status,
    );
  }

  app.route('/', taskInstancePages(engine));
  return app;
}

function RunPage({ page, view, now, error }: { page: PageContext; view: RunView; now: Date; error?: string }) {
  const { dagId, run } = view;
  const base = runPath(dagId, run.runId);
  return (
    <Layout title={`Run ${run.runId}`} page={page} dagTimezone={view.timezone}>
      <p class="crumbs">
        <a href="/">DAGs</a> / <a href={`/ui/dags/${enc(dagId)}`}>{dagId}</a> / {run.runId}
      </p>
      {error ? <p class="banner">{error}</p> : null}
      <div class="run-head" data-live={`${base}?fragment=header`}>
        <RunHeader page={page} view={view} now={now} />
      </div>
      {view.triggeringEvents.length > 0 ? (
        <>
          <h2>Triggering dataset events</h2>
          <DatasetEventsTable events={view.triggeringEvents} />
        </>
      ) : null}
      <h2>Tasks</h2>
      <div data-live={`${base}?fragment=tasks`}>
        <TasksTable view={view} now={now} />
      </div>
      <h2>Gantt</h2>
      <div class="gantt-box" data-live={`${base}?fragment=gantt`}>
        <Gantt tasks={ganttRows(view.tasks)} now={now} />
      </div>
    </Layout>
  );
}

/**
 * The run's details and the actions its state allows (the `?fragment=header` answer): live,
 * so that state, times, duration and buttons follow the run to its end.
 */
function RunHeader({ page, view, now }: { page: PageContext; view: RunView; now: Date }) {
  const { run } = view;
  const base = runPath(view.dagId, run.runId);
  const active = run.state === 'queued' || run.state === 'running';
  return (
    <>
      <table class="details">
        <tbody>
          <tr>
            <th>State</th>
            <td>
              <StateBadge state={run.state} />
            </td>
          </tr>
          <tr>
            <th>Type</th>
            <td>{run.runType}</td>
          </tr>
          <tr>
            <th>Logical date</th>
            <td>
              <Time at={run.logicalDate} />
            </td>
          </tr>
          <tr>
            <th>Data interval</th>
            <td>
              <Time at={run.intervalStart} /> – <Time at={run.intervalEnd} />
            </td>
          </tr>
          <tr>
            <th>Queued</th>
            <td>
              <Time at={run.queuedAt} />
            </td>
          </tr>
          <tr>
            <th>Started</th>
            <td>
              <Time at={run.startedAt} />
            </td>
          </tr>
          <tr>
            <th>Ended</th>
            <td>
              <Time at={run.endedAt} />
            </td>
          </tr>
          <tr>
            <th>Duration</th>
            <td class="duration">{formatElapsed(span(run.startedAt, run.endedAt, now))}</td>
          </tr>
          {run.callbackError ? (
            <tr>
              <th>Run callback</th>
              <td class="error">{run.callbackError}</td>
            </tr>
          ) : null}
          <tr>
            <th>DAG version</th>
            <td>{view.version ?? '–'}</td>
          </tr>
          <tr>
            <th>Conf</th>
            <td>
              <pre class="conf">{prettyJson(run.conf)}</pre>
            </td>
          </tr>
        </tbody>
      </table>
      {canOperate(page) ? (
        // What Airflow offers: a run can be marked what it is not yet; only an unfinished one can be cancelled.
        <p class="actions">
          {run.state !== 'success' ? <MarkButton page={page} base={base} state="success" /> : null}{' '}
          {run.state !== 'failed' ? <MarkButton page={page} base={base} state="failed" /> : null}{' '}
          {active ? (
            <form
              method="post"
              action={`${base}/cancel`}
              class="inline"
              onsubmit="return confirm('Cancel this run? Running tries are stopped.')"
            >
              <CsrfField page={page} />
              <button type="submit">Cancel</button>
            </form>
          ) : null}
        </p>
      ) : null}
    </>
  );
}

/** 'Mark success' or 'Mark failed': a confirmed POST to the run's /mark. */
function MarkButton({ page, base, state }: { page: PageContext; base: string; state: 'success' | 'failed' }) {
  return (
    <form
      method="post"
      action={`${base}/mark`}
      class="inline"
      onsubmit={`return confirm('Mark this run and its unfinished tasks ${state}?')`}
    >
      <CsrfField page={page} />
      <input type="hidden" name="state" value={state} />
      <button type="submit">Mark {state}</button>
    </form>
  );
}

function TasksTable({ view, now }: { view: RunView; now: Date }) {
  if (view.tasks.length === 0) return <p class="muted">This run has no task instances yet.</p>;
  return (
    <table class="tasks">
      <thead>
        <tr>
          <th>Task</th>
          <th>Operator</th>
          <th>State</th>
          <th>Try</th>
          <th>Queued</th>
          <th>Started</th>
          <th>Ended</th>
          <th>Duration</th>
        </tr>
      </thead>
      <tbody>
        {groupInstances(view.tasks).map((group) => {
          const ti = group[0]!;
          const mapped = ti.mapIndex >= 0;
          return (
            <tr data-task={ti.taskId}>
              <td>
                <a href={taskPath(view.dagId, view.run.runId, ti.taskId)}>{ti.taskId}</a>
                {mapped ? <MappedInstances view={view} group={group} /> : null}
              </td>
              <td>{ti.operator}</td>
              <td>
                {mapped ? <span class="mapped-summary">{stateSummary(group)}</span> : <StateBadge state={ti.state} />}
              </td>
              <td>
                {ti.tryNumber}/{ti.maxTries}
              </td>
              <td>
                <Time at={ti.queuedAt} />
              </td>
              <td>
                <Time at={ti.startedAt} />
              </td>
              <td>
                <Time at={mapped ? latest(group) : ti.endedAt} />
              </td>
              <td>
                {mapped
                  ? ''
                  : formatElapsed(ti.endedAt || ti.state === 'running' ? span(ti.startedAt, ti.endedAt, now) : null)}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

type Instance = RunView['tasks'][number];

/** The run's task instances by task, in order: a mapped task's instances together. */
function groupInstances(tasks: readonly Instance[]): Instance[][] {
  const groups = new Map<string, Instance[]>();
  for (const ti of tasks) groups.set(ti.taskId, [...(groups.get(ti.taskId) ?? []), ti]);
  return [...groups.values()];
}

/** '3 instances: 2 success, 1 failed'. */
function stateSummary(group: readonly Instance[]): string {
  const counts = new Map<string, number>();
  for (const ti of group) counts.set(ti.state ?? 'none', (counts.get(ti.state ?? 'none') ?? 0) + 1);
  return `${group.length} ${group.length === 1 ? 'instance' : 'instances'}: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`;
}

function latest(group: readonly Instance[]): Date | null {
  const ends = group.map((ti) => ti.endedAt?.getTime() ?? 0);
  return group.every((ti) => ti.endedAt) ? new Date(Math.max(...ends)) : null;
}

/** A mapped task's instances, each 'task [i]' linking to its page, with its state. */
function MappedInstances({ view, group }: { view: RunView; group: readonly Instance[] }) {
  return (
    <ul class="mapped">
      {group.map((ti) => (
        <li data-map-index={String(ti.mapIndex)}>
          <a href={`${taskPath(view.dagId, view.run.runId, ti.taskId)}?map_index=${ti.mapIndex}`}>
            {ti.taskId} [{ti.mapIndex}]
          </a>{' '}
          <StateBadge state={ti.state} />
        </li>
      ))}
    </ul>
  );
}

/** Gantt rows: a mapped task's instances as 'task[i]'. */
function ganttRows(tasks: readonly Instance[]): Instance[] {
  return tasks.map((ti) => (ti.mapIndex >= 0 ? { ...ti, taskId: `${ti.taskId}[${ti.mapIndex}]` } : ti));
}
