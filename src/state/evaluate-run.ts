import { sql } from 'drizzle-orm';
import { execute, type Tx } from '../db/execute.js';
import type { DagStructure } from './dag-cache.js';
import { jsonb } from '../db/execute.js';
import { topologicalOrder } from '../dag/graph.js';
import { applyDecisions, decideTask, stateFor, type StateChange } from './decide.js';
import { groupStates, undecided } from './expand-mapping.js';
import type { TaskState } from './vocabulary.js';

/**
 * Decides every task instance of the run still in state none by its trigger rule, in
 * dependency order, so that skips and upstream failures cascade within one pass. For
 * when no single task's end says where to look (evaluateDownstream's case): a cleared
 * run starting again, tasks cleared in a running run. Reads the run's task instances
 * once; the caller holds the run's row lock.
 */
export async function evaluateRun(tx: Tx, runRowId: string, structure: DagStructure): Promise<StateChange[]> {
  const { rows } = await execute<{ task_id: string; state: TaskState | null }>(
    tx,
    sql`select task_id, state from task_instances where run_id = ${runRowId}`,
  );
  const known = groupStates(rows);
  const notFollowed = await branchChoices(tx, runRowId, structure);
  const updates: StateChange[] = [];
  for (const id of topologicalOrder(structure.graph)) {
    if (!undecided(known.get(id))) continue;
    const task = structure.tasks.get(id)!;
    const state = notFollowed.has(id) ? 'skipped' : stateFor(task, known);
    if (state === undefined) continue;
    await decideTask(tx, runRowId, structure, task, state, known, updates);
  }
  await applyDecisions(tx, runRowId, updates);
  return updates;
}

const branchesOf = new WeakMap<DagStructure, string[]>();

/**
 * The direct downstream tasks that the run's successful branches did not follow, from their
 * stored choice (XCom): a task cleared after a branch stays skipped unless the branch runs
 * again (Airflow's NotPreviouslySkippedDep). No statement for DAGs without branches.
 */
async function branchChoices(tx: Tx, runRowId: string, structure: DagStructure): Promise<Set<string>> {
  let branches = branchesOf.get(structure);
  if (!branches) {
    branches = [...structure.tasks.values()].filter((t) => t.operator === 'branch').map((t) => t.id);
    branchesOf.set(structure, branches);
  }
  const skip = new Set<string>();
  if (branches.length === 0) return skip;
  const { rows } = await execute<{ task_id: string; value: unknown }>(
    tx,
    sql`select ti.task_id, x.value from task_instances ti join xcom x on x.task_instance_id = ti.id and x.key = 'return_value'
         where ti.run_id = ${runRowId} and ti.state = 'success' and ti.task_id in (select jsonb_array_elements_text(${jsonb(branches)}))`,
  );
  for (const row of rows) {
    const followed = Array.isArray(row.value) ? row.value : [];
    for (const down of structure.tasks.get(row.task_id)!.downstream) if (!followed.includes(down)) skip.add(down);
  }
  return skip;
}
