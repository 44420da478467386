/**
 * Dynamic task mapping at scheduling time (Airflow's TaskMap expansion): when a mapped
 * task's trigger rule says run, its one placeholder task instance (map_index -1) becomes
 * instance 0 and instances 1..n-1 are inserted beside it, one per item of what it maps
 * over. Plain tasks never come here: it costs nothing to DAGs without t.map.
 */
import { sql } from 'drizzle-orm';
import { execute, type Tx } from '../db/execute.js';
import { expandPlaceholder, failPlaceholder } from '../db/sql/expand-mapping.js';
import type { DagStructure, TaskNode } from './dag-cache.js';
import type { TaskState } from './vocabulary.js';

export interface Expansion {
  /** 'scheduled' with `count` instances; 'skipped' for an empty list; 'failed' with `error`. */
  state: TaskState;
  count: number;
  error?: string;
}

/**
 * Expands a mapped task whose trigger rule lets it run, or settles it: an empty list skips
 * it (as Airflow), a value that is not a list or is longer than maxLength fails it with the
 * reason. Writes the scheduled or failed rows itself; a skip is left to applyDecisions.
 */
export async function expandMapped(
  tx: Tx,
  runRowId: string,
  structure: DagStructure,
  task: TaskNode,
): Promise<Expansion> {
  const spec = task.mapped!;
  let items: unknown;
  let source: string;
  if ('items' in spec) {
    items = spec.items;
    source = 'its literal list';
  } else {
    source = `its upstream '${spec.over}'`;
    // One statement; a mapped upstream's result is its instances' results in map-index order.
    const { rows } = await execute<{ map_index: number; value: unknown }>(
      tx,
      sql`select ti.map_index, x.value from task_instances ti left join xcom x on x.task_instance_id = ti.id and x.key = 'return_value'
           where ti.run_id = ${runRowId} and ti.task_id = ${spec.over} order by ti.map_index`,
    );
    items = structure.tasks.get(spec.over)?.mapped
      ? rows.filter((r) => r.map_index >= 0).map((r) => r.value ?? null)
      : rows[0]?.value;
  }
  let error: string | undefined;
  if (!Array.isArray(items))
    error = `mapped task '${task.id}' cannot expand: ${source} returned ${describe(items)}, not an array`;
  else if (items.length > spec.maxLength)
    error = `mapped task '${task.id}' cannot expand: ${source} returned ${items.length} items, more than maxLength ${spec.maxLength}`;
  if (error) {
    await failPlaceholder(tx, runRowId, task.id, error);
    return { state: 'failed', count: 1, error };
  }
  const count = (items as unknown[]).length;
  if (count === 0) return { state: 'skipped', count: 1 };
  await expandPlaceholder(tx, runRowId, task.id, count);
  return { state: 'scheduled', count };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return `a ${typeof value === 'object' ? 'object' : typeof value}`;
}

/** A task's instances' states as evaluateDownstream and evaluateRun hold them: several for a mapped task. */
export type KnownStates = Map<string, (TaskState | null)[]>;

/** The task is still to be decided: its one (placeholder) task instance is in state none. */
export function undecided(states: readonly (TaskState | null)[] | undefined): boolean {
  return states !== undefined && states.length === 1 && states[0] === null;
}

/** Rows of (task_id, state) grouped by task. */
export function groupStates(
  rows: readonly { task_id: string; state: TaskState | null }[],
  into: KnownStates = new Map(),
): KnownStates {
  for (const row of rows) {
    const list = into.get(row.task_id);
    if (list) list.push(row.state);
    else into.set(row.task_id, [row.state]);
  }
  return into;
}
