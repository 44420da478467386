/**
 * The DAG page's grid tab: the latest runs as columns (newest right), the tasks as rows in
 * topological order, each cell the task instance's state. Two queries on indexes: the
 * runs along dag_runs (dag_id, logical_date), their task instances by (run_id, ...).
 */
import { desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../../db/client.js';
import { dagRuns, taskInstances } from '../../../db/schema.js';
import { declarationOrder, type TaskGraph } from '../../../dag/graph.js';
import type { SerializedDag } from '../../../dag/serialize.js';
import { enc, fmtTime } from './kit.js';

export interface GridRun {
  id: string;
  runId: string;
  state: string;
  runType: string;
  logicalDate: Date;
}

export type TaskCells = Map<string, { state: string | null; tryNumber: number }>;

export interface GridData {
  /** Oldest first: the newest run is the right-most column. */
  runs: GridRun[];
  /** Task states by run row id, then task id. */
  cells: Map<string, TaskCells>;
}

/** The DAG's latest `limit` runs, newest first. */
export async function recentRuns(db: Db, dagRowId: string, limit: number): Promise<GridRun[]> {
  return db
    .select({
      id: dagRuns.id,
      runId: dagRuns.runId,
      state: dagRuns.state,
      runType: dagRuns.runType,
      logicalDate: dagRuns.logicalDate,
    })
    .from(dagRuns)
    .where(eq(dagRuns.dagId, dagRowId))
    .orderBy(desc(dagRuns.logicalDate))
    .limit(limit);
}

const RANKS = [
  'success',
  'skipped',
  'removed',
  null,
  'scheduled',
  'queued',
  'running',
  'up_for_retry',
  'up_for_reschedule',
  'upstream_failed',
  'failed',
];
const rank = (state: string | null) => RANKS.indexOf(state);

/** The task instances' states of these runs (a mapped task's: see below). */
export async function taskCells(db: Db, runRowIds: string[]): Promise<Map<string, TaskCells>> {
  const cells = new Map<string, TaskCells>(runRowIds.map((id) => [id, new Map()]));
  if (runRowIds.length === 0) return cells;
  const rows = await db
    .select({
      runId: taskInstances.runId,
      taskId: taskInstances.taskId,
      state: taskInstances.state,
      tryNumber: taskInstances.tryNumber,
    })
    .from(taskInstances)
    .where(inArray(taskInstances.runId, runRowIds));
  // A mapped task's cell shows its worst instance's state (failed before running before success).
  for (const row of rows) {
    const cell = cells.get(row.runId);
    const seen = cell?.get(row.taskId);
    if (!seen || rank(row.state) > rank(seen.state))
      cell?.set(row.taskId, { state: row.state, tryNumber: row.tryNumber });
  }
  return cells;
}

export async function loadGrid(db: Db, dagRowId: string, limit: number): Promise<GridData> {
  const runs = (await recentRuns(db, dagRowId, limit)).reverse();
  return {
    runs,
    cells: await taskCells(
      db,
      runs.map((r) => r.id),
    ),
  };
}

/** The grid's table (the live fragment's content). Tasks that the runs have but the DAG no longer has are listed last. */
export function DagGrid({
  dagId,
  dag,
  graph,
  data,
}: {
  dagId: string;
  dag: Pick<SerializedDag, 'tasks'>;
  /** The version's task graph: the rows' order. */
  graph: TaskGraph;
  data: GridData;
}) {
  if (data.runs.length === 0) return <p class="muted">No runs yet.</p>;
  const taskIds = declarationOrder(graph);
  const known = new Set(taskIds);
  for (const cells of data.cells.values())
    for (const id of cells.keys())
      if (!known.has(id)) {
        known.add(id);
        taskIds.push(id);
      }
  const operatorOf = new Map(dag.tasks.map((t) => [t.id, t.operator]));
  const runPath = (run: GridRun) => `/ui/dags/${enc(dagId)}/runs/${enc(run.runId)}`;
  return (
    <table class="grid">
      <thead>
        <tr>
          <th>task</th>
          {data.runs.map((run) => (
            <th class="gcol">
              {/* biome-ignore lint/a11y/useAnchorContent: a coloured square, named by its title (time.js shows its times in the chosen timezone) */}
              <a
                class={`sq run s-${run.state}`}
                href={runPath(run)}
                data-times=""
                title={`${run.runId}\n${run.runType}, ${run.state}\nlogical date ${fmtTime(run.logicalDate)}`}
              ></a>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {taskIds.map((taskId) => (
          <tr>
            <td class="gtask">
              {taskId}{' '}
              {operatorOf.has(taskId) ? (
                <span class="muted">{operatorOf.get(taskId)}</span>
              ) : (
                <span class="muted">(removed)</span>
              )}
            </td>
            {data.runs.map((run) => {
              const cell = data.cells.get(run.id)?.get(taskId);
              if (!cell) return <td class="gcol"></td>;
              const state = cell.state ?? 'none';
              return (
                <td class="gcol">
                  {/* biome-ignore lint/a11y/useAnchorContent: a coloured square, named by its title (time.js shows its times in the chosen timezone) */}
                  <a
                    class={`sq s-${state}`}
                    href={`${runPath(run)}/tasks/${enc(taskId)}`}
                    title={`${taskId}\n${run.runId}\n${state}${cell.tryNumber > 0 ? `, try ${cell.tryNumber}` : ''}`}
                    data-state={state}
                  ></a>
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
