/**
 * The datasets pages (docs/datasets.md): /ui/datasets lists every dataset with the tasks
 * that update it, the DAGs scheduled on it and its last event; /ui/datasets/events?uri=
 * shows one dataset's recent events with links to the producing runs and the runs they
 * triggered. Links are computed from the stored DAGs, so they show before any event.
 */
import { Hono } from 'hono';
import { listDatasetEvents, listDatasets, type DatasetEventRow } from '../../../catalog/datasets.js';
import { describeDatasetSchedule, type DatasetSchedule } from '../../../dag/datasets.js';
import type { SerializedDag } from '../../../dag/serialize.js';
import type { Engine } from '../../../engine/engine.js';
import { Layout } from '../layout.js';
import { enc, pageErrors, pageOf, readGate, Time } from './kit.js';

const EVENTS_SHOWN = 100;

const dagHref = (dagId: string) => `/ui/dags/${enc(dagId)}`;
const runHref = (dagId: string, runId: string) => `/ui/dags/${enc(dagId)}/runs/${enc(runId)}`;
export const datasetHref = (uri: string) => `/ui/datasets/events?uri=${enc(uri)}`;

/** "on datasets: a, b (all)" with each dataset linking to its events; for the DAG list and page. */
export function DatasetScheduleLabel({ schedule }: { schedule: DatasetSchedule }) {
  return (
    <span class="dataset-schedule" title={describeDatasetSchedule(schedule)}>
      on datasets:{' '}
      {schedule.uris.map((uri, i) => (
        <>
          {i > 0 ? ', ' : ''}
          <a href={datasetHref(uri)}>
            <code>{uri}</code>
          </a>
        </>
      ))}{' '}
      ({schedule.when})
    </span>
  );
}

/** A DAG's schedule cell: its cron, its datasets (linked), or `manual`. */
export function ScheduleText({
  dag,
  manual,
}: {
  dag: { schedule: string | null; datasetSchedule: unknown };
  manual: string;
}) {
  if (dag.datasetSchedule) return <DatasetScheduleLabel schedule={dag.datasetSchedule as DatasetSchedule} />;
  return <code>{dag.schedule ?? manual}</code>;
}

/** The datasets a DAG's tasks update (their outlets), each linking to its events. */
export function DagOutlets({ serialized }: { serialized: SerializedDag }) {
  const outlets = serialized.tasks.flatMap((t) => (t.outlets ?? []).map((uri) => ({ uri, taskId: t.id })));
  if (outlets.length === 0) return <span class="muted">–</span>;
  return (
    <>
      {outlets.map((o, i) => (
        <>
          {i > 0 ? ', ' : ''}
          <a href={datasetHref(o.uri)}>
            <code>{o.uri}</code>
          </a>{' '}
          <span class="muted">({o.taskId})</span>
        </>
      ))}
    </>
  );
}

/** Dataset events as a table: when, dataset, the producing try and the runs each triggered. */
export function DatasetEventsTable({ events, showUri = true }: { events: DatasetEventRow[]; showUri?: boolean }) {
  return (
    <table class="dataset-events">
      <thead>
        <tr>
          <th>When</th>
          {showUri ? <th>Dataset</th> : null}
          <th>Updated by</th>
          <th>Triggered runs</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr>
            <td>
              <Time at={e.createdAt} />
            </td>
            {showUri ? (
              <td>
                <a href={datasetHref(e.uri)}>
                  <code>{e.uri}</code>
                </a>
              </td>
            ) : null}
            <td>
              <a href={runHref(e.sourceDagId, e.sourceRunId)}>
                {e.sourceDagId}.{e.sourceTaskId}
              </a>{' '}
              <span class="muted">
                {e.sourceRunId}, try {e.sourceTryNumber}
              </span>
            </td>
            <td>
              {e.triggeredRuns.length === 0 ? (
                <span class="muted">none yet</span>
              ) : (
                e.triggeredRuns.map((r, i) => (
                  <>
                    {i > 0 ? ', ' : ''}
                    <a href={runHref(r.dagId, r.runId)}>
                      {r.dagId} {r.runId}
                    </a>
                  </>
                ))
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function datasetPages(engine: Engine): Hono {
  const db = engine.database.db;
  const app = new Hono();
  app.onError(pageErrors(engine));
  app.use('/ui/datasets', readGate(engine));
  app.use('/ui/datasets/*', readGate(engine));

  app.get('/ui/datasets', async (c) => {
    const rows = await listDatasets(db);
    return c.html(
      <Layout title="Datasets" page={pageOf(c)}>
        {rows.length === 0 ? (
          <p class="muted">
            No datasets yet: a task declares the datasets it updates with its `outlets` option (docs/datasets.md).
          </p>
        ) : (
          <table class="datasets">
            <thead>
              <tr>
                <th>Dataset</th>
                <th>Updated by</th>
                <th>Scheduled DAGs</th>
                <th>Last event</th>
                <th>Events</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr>
                  <td>
                    <a href={datasetHref(d.uri)}>
                      <code>{d.uri}</code>
                    </a>
                  </td>
                  <td>
                    {d.producers.length === 0 ? <span class="muted">no task</span> : null}
                    {d.producers.map((p, i) => (
                      <>
                        {i > 0 ? ', ' : ''}
                        <a href={dagHref(p.dagId)}>
                          {p.dagId}.{p.taskId}
                        </a>
                      </>
                    ))}
                  </td>
                  <td>
                    {d.consumers.length === 0 ? <span class="muted">no DAG</span> : null}
                    {d.consumers.map((x, i) => (
                      <>
                        {i > 0 ? ', ' : ''}
                        <a href={dagHref(x.dagId)}>{x.dagId}</a> <span class="muted">({x.when})</span>
                      </>
                    ))}
                  </td>
                  <td>{d.lastEventAt ? <Time at={d.lastEventAt} /> : <span class="muted">never</span>}</td>
                  <td>{d.events}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Layout>,
    );
  });

  app.get('/ui/datasets/events', async (c) => {
    const uri = c.req.query('uri') || undefined;
    const [dataset] = uri === undefined ? [] : await listDatasets(db, { uri });
    if (uri !== undefined && !dataset) {
      return c.html(
        <Layout title="Dataset not found" page={pageOf(c)}>
          <p class="error">No dataset '{uri}'.</p>
          <p>
            <a href="/ui/datasets">All datasets</a>
          </p>
        </Layout>,
        404,
      );
    }
    const events = await listDatasetEvents(db, { uri, limit: EVENTS_SHOWN });
    return c.html(
      <Layout title={uri ? `Dataset ${uri}` : 'Dataset events'} page={pageOf(c)}>
        <p>
          <a href="/ui/datasets">All datasets</a>
        </p>
        {dataset ? (
          <dl class="facts">
            <dt>updated by</dt>
            <dd>{dataset.producers.map((p) => `${p.dagId}.${p.taskId}`).join(', ') || 'no task'}</dd>
            <dt>scheduled DAGs</dt>
            <dd>
              {dataset.consumers.length === 0 ? 'no DAG' : null}
              {dataset.consumers.map((x, i) => (
                <>
                  {i > 0 ? ', ' : ''}
                  <a href={dagHref(x.dagId)}>{x.dagId}</a> ({x.when})
                </>
              ))}
            </dd>
          </dl>
        ) : null}
        <h2>
          {events.length === 0
            ? 'No events yet'
            : `Latest ${Math.min(events.length, EVENTS_SHOWN)} of ${events[0]!.total} events`}
        </h2>
        {events.length > 0 ? <DatasetEventsTable events={events} showUri={uri === undefined} /> : null}
      </Layout>,
    );
  });
  return app;
}
