/**
 * The task instance page (/ui/dags/:dagId/runs/:runId/tasks/:taskId): state, tries,
 * where it runs, its timings, its error (live: ?fragment=header), the log of each try
 * (?try=N, newest by default; ?fragment=log answers the tries' tabs and the log, live), its
 * XCom and the run's params; and the operator's "clear" (with downstream, upstream,
 * only failed), whose refusal is shown on the page with 409.
 */
import { and, asc, eq } from 'drizzle-orm';
import { Hono, type Context } from 'hono';
import type { Child } from 'hono/jsx';
import { actorOf } from '../../../auth/index.js';
import { clearTaskInstances } from '../../../state/clear.js';
import { tryVersions, type TryVersion } from '../../../catalog/try-versions.js';
import { taskLogs } from '../../../db/schema.js';
import type { Engine } from '../../../engine/engine.js';
import { NotFoundError, UpdraftError } from '../../../errors.js';
import { CsrfField, Layout, StateBadge, type PageContext } from '../layout.js';
import { canOperate, enc, operateGate, pageErrors, pageOf, prettyJson, readGate, span, Time } from './kit.js';
import { loadTask, type TaskView } from './run-data.js';
import { int4Of } from '../../../util/input.js';
import { formatElapsed } from '../../../util/duration.js';

const runPath = (dagId: string, runId: string) => `/ui/dags/${enc(dagId)}/runs/${enc(runId)}`;
const taskPath = (dagId: string, runId: string, taskId: string) => `${runPath(dagId, runId)}/tasks/${enc(taskId)}`;

interface LogLine {
  at: Date;
  level: string;
  message: string;
}

interface TryLog {
  /** The try shown; 0 when none has started. */
  tryNumber: number;
  lines: LogLine[];
  /** The DAG version each try ran. */
  tries: TryVersion[];
}

export function taskInstancePages(engine: Engine): Hono {
  const db = engine.database.db;
  const app = new Hono();
  app.onError(pageErrors(engine));

  /** The try `?try=` asks for (default the latest), with its lines; a try that has not happened is a 404. */
  async function tryLog(view: TaskView, asked: string | undefined): Promise<TryLog> {
    const { ti } = view;
    const n = asked === undefined || asked === '' ? ti.tryNumber : Number(asked);
    if (asked !== undefined && asked !== '' && (!Number.isInteger(n) || n < 1 || n > ti.tryNumber)) {
      const had =
        ti.tryNumber === 0
          ? 'it has not started yet'
          : `it has had ${ti.tryNumber} ${ti.tryNumber === 1 ? 'try' : 'tries'}`;
      throw new NotFoundError(`task '${ti.taskId}' of run '${view.run.runId}' has no try '${asked}': ${had}`);
    }
    if (n === 0) return { tryNumber: 0, lines: [], tries: [] };
    const tries = (await tryVersions(db, { taskInstanceId: ti.id })).get(ti.id) ?? [];
    const lines = await db
      .select({ at: taskLogs.at, level: taskLogs.level, message: taskLogs.message })
      .from(taskLogs)
      .where(and(eq(taskLogs.taskInstanceId, ti.id), eq(taskLogs.tryNumber, n)))
      .orderBy(asc(taskLogs.id));
    return { tryNumber: n, lines, tries };
  }

  app.get('/ui/dags/:dagId/runs/:runId/tasks/:taskId', readGate(engine), async (c) => {
    const { dagId, runId, taskId } = c.req.param();
    const view = await loadTask(db, dagId, runId, taskId, mapIndexOf(c.req.query('map_index')));
    const log = await tryLog(view, c.req.query('try'));
    const fragment = c.req.query('fragment');
    if (fragment === 'header') return c.html(<TaskHeader view={view} tries={log.tries} now={new Date()} />);
    if (fragment === 'log') return c.html(<TryLogs view={view} log={log} />);
    const cleared = c.req.query('cleared');
    const notice =
      cleared !== undefined && /^\d+$/.test(cleared)
        ? `Cleared ${cleared} task ${cleared === '1' ? 'instance' : 'instances'}.`
        : undefined;
    const pinned = (c.req.query('try') ?? '') !== '';
    return c.html(<TaskPage page={pageOf(c)} view={view} log={log} pinned={pinned} now={new Date()} notice={notice} />);
  });

  const operate = operateGate((path) => path.replace(/\/clear$/, ''));
  app.post('/ui/dags/:dagId/runs/:runId/tasks/:taskId/clear', operate, async (c) => {
    const { dagId, runId, taskId } = c.req.param();
    const view = await loadTask(db, dagId, runId, taskId);
    const body = await c.req.parseBody();
    const on = (name: string) => body[name] !== undefined && body[name] !== '' && body[name] !== 'false';
    try {
      const result = await clearTaskInstances(db, dagId, {
        actor: actorOf(c.get('user')!),
        runId: view.run.runId,
        taskIds: [taskId],
        downstream: on('downstream'),
        upstream: on('upstream'),
        onlyFailed: on('only_failed'),
      });
      return c.redirect(`${taskPath(dagId, runId, taskId)}?cleared=${result.count}`, 303);
    } catch (error) {
      if (!(error instanceof UpdraftError) || error instanceof NotFoundError) throw error;
      return rerender(c, view, error.message);
    }
  });

  async function rerender(c: Context, view: TaskView, error: string): Promise<Response> {
    const page = { ...pageOf(c), path: taskPath(view.dagId, view.run.runId, view.ti.taskId) };
    return c.html(
      <TaskPage
        page={page}
        view={view}
        log={await tryLog(view, undefined)}
        pinned={false}
        now={new Date()}
        error={error}
      />,
      409,
    );
  }

  return app;
}

/** `?map_index=` of a mapped task's instance; anything but a whole number is a 404. */
function mapIndexOf(asked: string | undefined): number | undefined {
  if (asked === undefined || asked === '') return undefined;
  const index = int4Of(asked, { min: -1 });
  if (index === undefined) throw new NotFoundError(`'${asked}' is not a map index`);
  return index;
}

function Row({ label, children }: { label: string; children?: Child }) {
  return (
    <tr>
      <th>{label}</th>
      <td>{children}</td>
    </tr>
  );
}

/** `/ui/dags/…/tasks/<task>?map_index=i&`: the task instance's own page, ready for more query. */
function selfQuery(view: TaskView): string {
  const { ti, dagId, run } = view;
  // A mapped task's instance: its index travels with every link to this page.
  return `${taskPath(dagId, run.runId, ti.taskId)}?${ti.mapIndex >= 0 ? `map_index=${ti.mapIndex}&` : ''}`;
}

function TaskPage(props: {
  page: PageContext;
  view: TaskView;
  log: TryLog;
  pinned: boolean;
  now: Date;
  error?: string;
  notice?: string;
}) {
  const { page, view, log, pinned, now, error, notice } = props;
  const { ti, dagId, run } = view;
  const self = taskPath(dagId, run.runId, ti.taskId);
  const label = ti.mapIndex >= 0 ? `${ti.taskId} [${ti.mapIndex}]` : ti.taskId;
  return (
    <Layout title={`Task ${label}`} page={page} dagTimezone={view.timezone}>
      <p class="crumbs">
        <a href="/">DAGs</a> / <a href={`/ui/dags/${enc(dagId)}`}>{dagId}</a> /{' '}
        <a href={runPath(dagId, run.runId)}>{run.runId}</a> / {label}
      </p>
      {error ? <p class="banner">{error}</p> : null}
      {notice ? <p class="notice">{notice}</p> : null}
      <div class="task-head" data-live={`${selfQuery(view)}fragment=header`}>
        <TaskHeader view={view} tries={log.tries} now={now} />
      </div>
      {canOperate(page) ? (
        <form
          method="post"
          action={`${self}/clear`}
          class="clear"
          onsubmit="return confirm('Clear this task instance? It runs again with a fresh try.')"
        >
          <CsrfField page={page} />
          <label>
            <input type="checkbox" name="downstream" value="1" /> downstream
          </label>{' '}
          <label>
            <input type="checkbox" name="upstream" value="1" /> upstream
          </label>{' '}
          <label>
            <input type="checkbox" name="only_failed" value="1" /> only failed
          </label>{' '}
          <button type="submit">Clear</button>
        </form>
      ) : null}
      <h2>Log</h2>
      {/* Follows the newest try (a retry or a clear adds one) unless a try was asked for. */}
      <div data-live={`${selfQuery(view)}${pinned ? `try=${log.tryNumber}&` : ''}fragment=log`}>
        <TryLogs view={view} log={log} />
      </div>
      <h2>XCom</h2>
      {view.xcom.length === 0 ? (
        <p class="muted">No XCom stored.</p>
      ) : (
        view.xcom.map((x) => (
          <section class="xcom">
            <h3>
              <code>{x.key}</code>
            </h3>
            <pre class="json">{prettyJson(x.value)}</pre>
          </section>
        ))
      )}
      <h2>Params</h2>
      {view.paramsError ? (
        <p class="banner">The run's conf no longer matches the DAG's params: {view.paramsError}</p>
      ) : null}
      <pre class="json params">{prettyJson(view.params)}</pre>
    </Layout>
  );
}

/** State, tries, where it runs, timings and error (the `?fragment=header` answer, live). */
function TaskHeader({ view, tries, now }: { view: TaskView; tries: TryVersion[]; now: Date }) {
  const { ti } = view;
  const delay = ti.startedAt && ti.scheduledAt ? ti.startedAt.getTime() - ti.scheduledAt.getTime() : null;
  return (
    <table class="details">
      <tbody>
        <Row label="State">
          <StateBadge state={ti.state} />
        </Row>
        <Row label="Try">
          {ti.tryNumber} of {ti.maxTries}
        </Row>
        <Row label="DAG version">{versionText(tries.find((t) => t.tryNumber === ti.tryNumber))}</Row>
        <Row label="Operator">{ti.operator}</Row>
        {ti.mapIndex >= 0 ? <Row label="Map index">{ti.mapIndex}</Row> : null}
        <Row label="Pool">{ti.pool}</Row>
        <Row label="Queue">{ti.queue}</Row>
        <Row label="Priority">{ti.priority}</Row>
        <Row label="Worker">{ti.owner ?? '–'}</Row>
        <Row label="Scheduled">
          <Time at={ti.scheduledAt} />
        </Row>
        <Row label="Queued">
          <Time at={ti.queuedAt} />
        </Row>
        <Row label="Started">
          <Time at={ti.startedAt} />
        </Row>
        <Row label="Ended">
          <Time at={ti.endedAt} />
        </Row>
        <Row label="Duration">
          {formatElapsed(ti.endedAt || ti.state === 'running' ? span(ti.startedAt, ti.endedAt, now) : null)}
        </Row>
        <Row label="Scheduling delay">{formatElapsed(delay)}</Row>
        {ti.nextTryAt ? (
          <Row label={ti.state === 'up_for_reschedule' ? 'Next poke at' : 'Next try at'}>
            <Time at={ti.nextTryAt} />
          </Row>
        ) : null}
        {ti.error ? (
          <Row label="Error">
            <pre class="error">{ti.error}</pre>
          </Row>
        ) : null}
      </tbody>
    </table>
  );
}

/** The tries' tabs and the shown try's log (the `?fragment=log` answer, live). */
function TryLogs({ view, log }: { view: TaskView; log: TryLog }) {
  const { ti } = view;
  return (
    <>
      {ti.tryNumber > 0 ? (
        <nav class="tabs">
          {Array.from({ length: ti.tryNumber }, (_, i) => ti.tryNumber - i).map((n) => (
            <a href={`${selfQuery(view)}try=${n}`} class={n === log.tryNumber ? 'current' : undefined}>
              Try {n}
            </a>
          ))}
        </nav>
      ) : null}
      {log.tryNumber > 0 ? (
        <p class="muted try-version">
          Try {log.tryNumber} ran DAG version {versionText(log.tries.find((t) => t.tryNumber === log.tryNumber))}.
        </p>
      ) : null}
      <LogLines log={log} />
    </>
  );
}

/** A try's DAG version as the DAG page numbers them; '–' for a try from before versions were recorded. */
function versionText(tried: TryVersion | undefined): string {
  return tried?.dagVersion == null ? '–' : String(tried.dagVersion);
}

function LogLines({ log }: { log: TryLog }) {
  if (log.tryNumber === 0) return <p class="muted">No try has started yet.</p>;
  if (log.lines.length === 0) return <p class="muted">Try {log.tryNumber} wrote nothing.</p>;
  return (
    <pre class="log" data-try={log.tryNumber}>
      {log.lines.map((l) => (
        // As formatLogLine writes it, with the time in a <time> for the chosen timezone.
        <span class={`log-line l-${l.level}`}>
          <Time at={l.at} precise />
          {` ${l.level.toUpperCase()} ${l.message}\n`}
        </span>
      ))}
    </pre>
  );
}
