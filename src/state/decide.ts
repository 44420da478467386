/**
 * Trigger-rule decisions: what task instances in state none become once their upstream tasks
 * end (scheduled, skipped or upstream_failed), cascading through the DAG within one
 * transaction. A mapped task to run is expanded here (src/state/expand-mapping.ts).
 */
import { sql } from 'drizzle-orm';
import { execute, jsonb, type Tx } from '../db/execute.js';
import { writeDecisions } from '../db/sql/apply-decisions.js';
import type { TriggerRule } from '../dag/types.js';
import type { DagStructure, TaskNode } from './dag-cache.js';
import { expandMapped, groupStates, type KnownStates, undecided } from './expand-mapping.js';
import { countUpstream, decide } from './trigger-rules.js';
import { FINISHED_TASK_STATES, type TaskState } from './vocabulary.js';

/** A task instance whose state changed, for live displays. */
export interface StateChange {
  runRowId: string;
  taskId: string;
  /** Set for the instances of a mapped task. */
  mapIndex?: number;
  state: TaskState;
}

const READY: ReadonlySet<TaskState | null> = new Set(FINISHED_TASK_STATES);

/**
 * Decides the tasks downstream of `changed` that are still in state none, and
 * their downstream in turn when they are skipped or upstream_failed. Reads only
 * the states it needs, never the whole run. `skip`: tasks a branch did not follow.
 * A mapped task counts every instance, as Airflow counts each expanded one.
 */
export async function evaluateDownstream(
  tx: Tx,
  runRowId: string,
  structure: DagStructure,
  changed: Map<string, TaskState | null>,
  skip: ReadonlySet<string> = new Set(),
): Promise<StateChange[]> {
  // A mapped task's other instances are read, not taken from this one's end.
  const known: KnownStates = new Map(
    [...changed].filter(([id]) => !structure.tasks.get(id)?.mapped).map(([id, state]) => [id, [state]]),
  );
  const updates: StateChange[] = [];
  let pending = new Set([...changed.keys()].flatMap((id) => structure.tasks.get(id)?.downstream ?? []));
  while (pending.size > 0) {
    const missing = new Set<string>();
    for (const id of pending) {
      if (!known.has(id)) missing.add(id);
      for (const up of structure.tasks.get(id)!.upstream) if (!known.has(up)) missing.add(up);
    }
    if (missing.size > 0) {
      const { rows } = await execute<{ task_id: string; state: TaskState | null }>(
        tx,
        sql`select task_id, state from task_instances
             where run_id = ${runRowId} and task_id in (select jsonb_array_elements_text(${jsonb([...missing])}))`,
      );
      groupStates(rows, known);
    }
    const next = new Set<string>();
    for (const id of pending) {
      if (!undecided(known.get(id))) continue;
      const task = structure.tasks.get(id)!;
      const state = skip.has(id) ? 'skipped' : stateFor(task, known);
      if (state === undefined) continue;
      const decided = await decideTask(tx, runRowId, structure, task, state, known, updates);
      if (READY.has(decided)) for (const down of task.downstream) next.add(down);
    }
    pending = next;
  }
  await applyDecisions(tx, runRowId, updates);
  return updates;
}

/** Decisions expandMapped has written already (expanded or failed mapped tasks). */
const written = new WeakSet<StateChange>();

/**
 * Records a task's decision in `known` and `updates`; a mapped task to run is expanded
 * first (src/state/expand-mapping.ts), which may settle it otherwise. Returns its state.
 */
export async function decideTask(
  tx: Tx,
  runRowId: string,
  structure: DagStructure,
  task: TaskNode,
  state: TaskState,
  known: KnownStates,
  updates: StateChange[],
): Promise<TaskState> {
  if (state !== 'scheduled' || !task.mapped) {
    known.set(task.id, [state]);
    updates.push({ runRowId, taskId: task.id, state });
    return state;
  }
  const expansion = await expandMapped(tx, runRowId, structure, task);
  known.set(task.id, Array<TaskState>(expansion.count).fill(expansion.state));
  const changes: StateChange[] =
    expansion.state === 'scheduled'
      ? Array.from({ length: expansion.count }, (_, i) => ({
          runRowId,
          taskId: task.id,
          mapIndex: i,
          state: 'scheduled',
        }))
      : [{ runRowId, taskId: task.id, state: expansion.state }];
  // A skip is left to applyDecisions; expandMapped wrote the rest.
  if (expansion.state !== 'skipped') for (const c of changes) written.add(c);
  updates.push(...changes);
  return expansion.state;
}

/** Writes trigger-rule decisions of task instances still in state none (one statement). */
export async function applyDecisions(tx: Tx, runRowId: string, all: readonly StateChange[]): Promise<void> {
  const updates = all.filter((u) => !written.has(u));
  if (updates.length > 0) await writeDecisions(tx, runRowId, updates);
}

/** What a task with no state becomes given its upstream tasks' states (`known`); undefined: it waits. */
export function stateFor(
  task: { triggerRule: TriggerRule; upstream: readonly string[] },
  known: ReadonlyMap<string, readonly (TaskState | null)[]>,
): TaskState | undefined {
  const decision = decide(task.triggerRule, countUpstream(task.upstream.flatMap((up) => known.get(up) ?? [null])));
  if (decision === 'wait') return undefined;
  return decision === 'run' ? 'scheduled' : decision === 'skip' ? 'skipped' : 'upstream_failed';
}
