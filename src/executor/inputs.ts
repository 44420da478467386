/**
 * What a try reads besides its claim: its upstream tasks' results (XComs), handed to it when
 * it starts, and the answers to what it asks while it runs (ctx.pull, a connection, operator
 * state).
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb } from '../db/execute.js';
import type { ClaimedTask } from '../state/tries.js';
import { connectionUrl } from '../connections/store.js';
import { readOperatorState } from '../operators/state.js';
import type { DagCache, DagStructure } from '../state/dag-cache.js';
import type { Question } from './protocol.js';

/** Where upstreamResults puts a mapped instance's item (a key no task id can be). */
export const ITEM = ' item';

/**
 * XComs of the claimed tasks' direct upstream tasks, one query for the batch, by claimed
 * task instance id. Those the executor has just committed (`known`, by '<run row id>
 * <task id>') are taken from memory, as jsonb hands them back: a chain's next task then
 * starts without a round trip for its input (the read was one statement per task of a
 * chain of 30, 29 of its 8.4 per task: engine-statements.test.ts).
 */
export async function upstreamResults(
  db: Db,
  cache: DagCache,
  claimed: ClaimedTask[],
  known: ReadonlyMap<string, unknown>,
): Promise<Map<string, Record<string, unknown>>> {
  const wanted: { ti: string; run: string; task: string; idx: number | null }[] = [];
  const results = new Map<string, Record<string, unknown>>();
  for (const c of claimed) {
    const structure = await cache.get(c.dag_version_id);
    const task = structure.tasks.get(c.task_id);
    const own: Record<string, unknown> = {};
    // A mapped instance gets its item, not the whole list (src/state/expand-mapping.ts).
    const over = task?.mapped && 'over' in task.mapped ? task.mapped.over : undefined;
    // Upstream tasks that returned nothing have no XCom row: their key stays, undefined.
    for (const up of task?.upstream ?? []) {
      const key = `${c.run_row_id} ${up}`;
      const item = up === over ? c.map_index : null;
      // A mapped upstream's result gathers all its instances: never one try's from memory.
      if (known.has(key) && !structure.tasks.get(up)?.mapped) {
        const value = known.get(key);
        if (item === null) own[up] = value;
        else own[ITEM] = Array.isArray(value) ? value[item] : undefined;
        continue;
      }
      if (item === null) own[up] = undefined;
      wanted.push({ ti: c.id, run: c.run_row_id, task: up, idx: item });
    }
    results.set(c.id, own);
  }
  if (wanted.length === 0) return results;
  // An item is cut out in SQL (x.value -> idx), so n instances do not each parse the whole list.
  const { rows } = await execute<{
    ti: string;
    task: string;
    idx: number | null;
    map_index: number;
    value: unknown;
    stored: boolean;
  }>(
    db,
    sql`select w.ti, w.task, w.idx, up.map_index, x.task_instance_id is not null as stored,
               case when w.idx is not null and up.map_index = -1 then x.value -> w.idx else x.value end as value
          from jsonb_to_recordset(${jsonb(wanted)}) as w(ti uuid, run uuid, task text, idx int)
          join task_instances up on up.run_id = w.run and up.task_id = w.task and (w.idx is null or up.map_index in (-1, w.idx))
          left join xcom x on x.task_instance_id = up.id and x.key = 'return_value'
         order by up.map_index`,
  );
  for (const row of rows) {
    const own = results.get(row.ti)!;
    if (row.idx !== null) own[ITEM] = row.stored ? row.value : undefined;
    else if (row.map_index >= 0) {
      own[row.task] ??= [];
      (own[row.task] as unknown[])[row.map_index] = row.stored ? row.value : null;
    } else if (row.stored) own[row.task] = row.value;
  }
  // A mapped upstream that never expanded (skipped) gathers nothing.
  for (const w of wanted)
    if (w.idx === null && isMapped(cache, claimed, w) && results.get(w.ti)![w.task] === undefined)
      results.get(w.ti)![w.task] = [];
  return results;
}

function isMapped(cache: DagCache, claimed: ClaimedTask[], w: { ti: string; task: string }): boolean {
  const claim = claimed.find((c) => c.id === w.ti)!;
  return cache.peek(claim.dag_version_id)?.tasks.get(w.task)?.mapped !== undefined;
}

/** Answers what a running try (or a callback) asks: a pulled XCom, a connection, operator state. */
export function answer(db: Db, claim: ClaimedTask, structure: DagStructure, question: Question): Promise<unknown> {
  switch (question.kind) {
    case 'pull':
      return pull(db, claim, structure, question.taskId);
    case 'connection':
      return connectionUrl(db, question.name);
    case 'state':
      return readOperatorState(db, structure.dagId, claim.task_id, question.key);
  }
}

async function pull(db: Db, claim: ClaimedTask, structure: DagStructure, taskId: string): Promise<unknown> {
  const task = structure.tasks.get(taskId);
  if (!task) throw new Error(`DAG '${structure.dagId}' has no task '${taskId}'`);
  const { rows } = await execute<{ map_index: number; value: unknown }>(
    db,
    sql`select ti.map_index, x.value from task_instances ti left join xcom x on x.task_instance_id = ti.id and x.key = 'return_value'
         where ti.run_id = ${claim.run_row_id} and ti.task_id = ${taskId} and (x.task_instance_id is not null or ti.map_index >= 0)
         order by ti.map_index`,
  );
  // A mapped task's result: its instances' results in map-index order (the reduce).
  if (task.mapped) return rows.filter((r) => r.map_index >= 0).map((r) => r.value ?? null);
  return rows[0]?.value;
}
