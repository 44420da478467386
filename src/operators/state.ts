/** Operator state (src/db/schema.ts operator_state): read for a try, written with its success. */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { execute, jsonb, type Tx } from '../db/execute.js';

export async function readOperatorState(db: Db, dagId: string, taskId: string, key: string): Promise<unknown> {
  const { rows } = await execute<{ value: unknown }>(db, sql`select value from operator_state where dag_id = ${dagId} and task_id = ${taskId} and key = ${key}`);
  return rows[0]?.value ?? null;
}

export async function writeOperatorState(tx: Tx, entries: { dagId: string; taskId: string; key: string; value: unknown }[]): Promise<void> {
  if (entries.length === 0) return;
  await execute(
    tx,
    sql`insert into operator_state (dag_id, task_id, key, value)
        select v.dag_id, v.task_id, v.key, v.value from jsonb_to_recordset(${jsonb(entries.map((e) => ({ dag_id: e.dagId, task_id: e.taskId, key: e.key, value: e.value ?? null })))})
          as v(dag_id text, task_id text, key text, value jsonb)
        on conflict (dag_id, task_id, key) do update set value = excluded.value, updated_at = now()`,
  );
}
