import { sql } from 'drizzle-orm';
import { execute, type Tx } from '../db/execute.js';
import type { DagStructure } from './dag-cache.js';
import { applyDecisions, stateFor, type StateChange } from './finish.js';
import type { TaskState } from './trigger-rules.js';

const orders = new WeakMap<DagStructure, string[]>();

/** The DAG's task ids, every task after its upstream tasks (computed once per version). */
function topologicalOrder(structure: DagStructure): string[] {
  let order = orders.get(structure);
  if (order) return order;
  const waiting = new Map([...structure.tasks.values()].map((t) => [t.id, t.upstream.length]));
  order = [...waiting].filter(([, n]) => n === 0).map(([id]) => id);
  for (let i = 0; i < order.length; i++) {
    for (const down of structure.tasks.get(order[i]!)!.downstream) {
      const left = waiting.get(down)! - 1;
      waiting.set(down, left);
      if (left === 0) order.push(down);
    }
  }
  orders.set(structure, order);
  return order;
}

/**
 * Decides every task instance of the run still in state none by its trigger rule, in
 * dependency order, so that skips and upstream failures cascade within one pass. For
 * when no single task's end says where to look (evaluateDownstream's case): a cleared
 * run starting again, tasks cleared in a running run. Reads the run's task instances
 * once; the caller holds the run's row lock.
 */
export async function evaluateRun(tx: Tx, runRowId: string, structure: DagStructure): Promise<StateChange[]> {
  const { rows } = await execute<{ task_id: string; state: TaskState | null }>(tx, sql`select task_id, state from task_instances where run_id = ${runRowId}`);
  const known = new Map(rows.map((r) => [r.task_id, r.state]));
  const updates: StateChange[] = [];
  for (const id of topologicalOrder(structure)) {
    if (known.get(id) !== null) continue;
    const state = stateFor(structure.tasks.get(id)!, known);
    if (state === undefined) continue;
    known.set(id, state);
    updates.push({ runRowId, taskId: id, state });
  }
  await applyDecisions(tx, runRowId, updates);
  return updates;
}
