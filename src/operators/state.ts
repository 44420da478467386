/** Operator state (src/db/schema.ts operator_state): read for a try, written with its success. */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb, type Tx } from '../db/execute.js';

export async function readOperatorState(db: Db, dagId: string, taskId: string, key: string): Promise<unknown> {
  const { rows } = await execute<{ value: unknown }>(
    db,
    sql`select value from operator_state where dag_id = ${dagId} and task_id = ${taskId} and key = ${key}`,
  );
  return rows[0]?.value ?? null;
}

/**
 * Keeps values in one statement. `entries` in the order the tries ended: where two tries
 * of one task set the same key (two runs finishing in one batch), the later one wins.
 */
export async function writeOperatorState(
  tx: Tx,
  entries: { dagId: string; taskId: string; key: string; value: unknown }[],
): Promise<void> {
  if (entries.length === 0) return;
  // One row per key: ON CONFLICT cannot update a row twice in one statement.
  const latest = new Map(entries.map((e) => [JSON.stringify([e.dagId, e.taskId, e.key]), e]));
  await execute(
    tx,
    sql`insert into operator_state (dag_id, task_id, key, value)
        select v.dag_id, v.task_id, v.key, coalesce(v.value, 'null'::jsonb)
          from jsonb_to_recordset(${jsonb([...latest.values()].map((e) => ({ dag_id: e.dagId, task_id: e.taskId, key: e.key, value: e.value ?? null })))})
            as v(dag_id text, task_id text, key text, value jsonb)
        on conflict (dag_id, task_id, key) do update set value = excluded.value, updated_at = now()`,
  );
}
