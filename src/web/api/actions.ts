/**
 * Run management over the API, with Airflow's stable API shapes: clearing task
 * instances (POST /dags/{dag_id}/clearTaskInstances), marking a run success or failed
 * (PATCH /dags/{dag_id}/dagRuns/{dag_run_id} {state}), and cancelling a run. Each is
 * one transaction in src/state (clear.ts, mark.ts) and lands in the audit log.
 */
import { z } from 'zod';
import { clearTaskInstances, type ClearResult } from '../../state/clear.js';
import { cancelRun, markRun, type RunStateChange } from '../../state/mark.js';
import { inputDate, Text, iso, requestSchemas, responseSchemas, Timestamp } from './common.js';
import { DagPath } from './dags.js';
import { readDates } from './dates.js';
import { defineRoute } from './route.js';
import { RunPath } from './runs.js';
import { TASK_STATES } from '../../state/vocabulary.js';

const TaskState = z.enum(TASK_STATES);

const ClearBody = z
  .strictObject({
    dry_run: z
      .boolean()
      .default(true)
      .describe('Say what would be cleared and change nothing (default true, as in Airflow)'),
    dag_run_id: Text.optional().describe("One run, or 'latest'"),
    start_date: inputDate('Runs whose logical date is at or after this').optional(),
    end_date: inputDate(
      'Runs whose logical date is at or before this; a day without a time covers that whole day, as `updraft clear --to`',
    ).optional(),
    task_ids: z.array(Text).min(1).optional().describe('These tasks (default: every task)'),
    only_failed: z.boolean().default(false).describe('Only failed and upstream_failed task instances'),
    include_upstream: z.boolean().default(false),
    include_downstream: z.boolean().default(false),
  })
  .refine((b) => b.dag_run_id !== undefined || b.start_date !== undefined || b.end_date !== undefined, {
    message: 'give dag_run_id, start_date or end_date: which runs to clear',
    path: ['dag_run_id'],
  })
  .register(requestSchemas, {
    id: 'ClearTaskInstances',
    description: 'Give dag_run_id, start_date or end_date (or several)',
  });

const ClearedTaskInstance = z.object({
  dag_id: z.string(),
  dag_run_id: z.string(),
  logical_date: Timestamp,
  task_id: z.string(),
  state: TaskState.nullable().describe('Its state before the clear'),
  try_number: z.int(),
});

const ClearResponse = z
  .object({ dry_run: z.boolean(), task_instances: z.array(ClearedTaskInstance), total_entries: z.int() })
  .register(responseSchemas, { id: 'TaskInstanceReferenceCollection' });

const MarkBody = z
  .strictObject({ state: z.enum(['success', 'failed']) })
  .register(requestSchemas, { id: 'UpdateDagRunState' });

const RunChange = z
  .object({
    dag_id: z.string(),
    dag_run_id: z.string(),
    previous_state: z.enum(['queued', 'running', 'success', 'failed']),
    state: z.enum(['success', 'failed']),
    task_instances: z.array(
      z.object({
        task_id: z.string(),
        from: TaskState.nullable(),
        to: TaskState,
        stopped: z.boolean().describe('Its running try is being aborted'),
      }),
    ),
  })
  .register(responseSchemas, { id: 'DAGRunStateChange' });

function cleared(result: ClearResult): z.input<typeof ClearResponse> {
  const task_instances = result.runs.flatMap((run) =>
    run.tasks.map((t) => ({
      dag_id: result.dagId,
      dag_run_id: run.runId,
      logical_date: iso(run.logicalDate),
      task_id: t.taskId,
      state: t.state,
      try_number: t.tryNumber,
    })),
  );
  return { dry_run: result.dryRun, task_instances, total_entries: result.count };
}

function changed(change: RunStateChange): z.input<typeof RunChange> {
  return {
    dag_id: change.dagId,
    dag_run_id: change.runId,
    previous_state: change.previous,
    state: change.state,
    task_instances: change.tasks.map((t) => ({ task_id: t.taskId, from: t.from, to: t.to, stopped: t.stopped })),
  };
}

export const actionRoutes = [
  defineRoute({
    method: 'post',
    path: '/dags/{dag_id}/clearTaskInstances',
    operationId: 'post_clear_task_instances',
    summary: 'Clear task instances so that they run again',
    description:
      'The selected task instances go back to no state and are run again with fresh tries; a finished run is queued again. Queued or running ones are refused (409). dry_run (the default) changes nothing.',
    tag: 'TaskInstance',
    params: DagPath,
    body: ClearBody,
    response: ClearResponse,
    errors: [404, 409],
    async handler({ db, params, body, actor }) {
      const dates = await readDates(db, params.dag_id, { start_date: body.start_date, end_date: body.end_date }, [
        'end_date',
      ]);
      const result = await clearTaskInstances(db, params.dag_id, {
        actor: actor(),
        runId: body.dag_run_id,
        from: dates.start_date,
        to: dates.end_date,
        taskIds: body.task_ids,
        onlyFailed: body.only_failed,
        upstream: body.include_upstream,
        downstream: body.include_downstream,
        dryRun: body.dry_run,
      });
      return cleared(result);
    },
  }),
  defineRoute({
    method: 'patch',
    path: '/dags/{dag_id}/dagRuns/{dag_run_id}',
    operationId: 'patch_dag_run',
    summary: 'Mark a run success or failed',
    description:
      'success: every unfinished task instance becomes success. failed: queued and running ones become failed (their tries are aborted), the others skipped.',
    tag: 'DAGRun',
    params: RunPath,
    body: MarkBody,
    response: RunChange,
    errors: [404, 409],
    handler: async ({ db, params, body, actor }) =>
      changed(await markRun(db, params.dag_id, params.dag_run_id, body.state, { actor: actor() })),
  }),
  defineRoute({
    method: 'post',
    path: '/dags/{dag_id}/dagRuns/{dag_run_id}/cancel',
    operationId: 'cancel_dag_run',
    summary: 'Cancel a queued or running run',
    description:
      'The run fails; running tries are aborted, task instances not started are skipped. A run that has ended is refused (409).',
    tag: 'DAGRun',
    params: RunPath,
    response: RunChange,
    errors: [404, 409],
    handler: async ({ db, params, actor }) =>
      changed(await cancelRun(db, params.dag_id, params.dag_run_id, { actor: actor() })),
  }),
];
