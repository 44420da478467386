/**
 * /backfills, with Airflow 3's names: list, create (the scheduler plans and runs what is
 * stored, src/backfill/advance.ts), preview a request (dry_run, writes nothing), one
 * backfill with its progress, its dates, and pause, unpause and cancel (audited).
 * backfillJson and the schemas are exported so that a client (the CLI) prints the same shape.
 */
import { z } from 'zod';
import {
  createBackfill,
  dryRunBackfill,
  REPROCESS,
  type BackfillRequest,
  type PlannedDate,
} from '../../backfill/create.js';
import { cancelBackfill, pauseBackfill, resumeBackfill } from '../../backfill/manage.js';
import {
  backfillDates,
  backfillProgress,
  getBackfill,
  listBackfills,
  type BackfillDate,
  type BackfillInfo,
  type BackfillProgress,
} from '../../backfill/read.js';
import type { Db } from '../../db/client.js';
import { ConfigError, InputError } from '../../errors.js';
import { INT4_MAX } from '../../util/input.js';
import {
  ApiError,
  collection,
  inputDate,
  intParam,
  JsonObject,
  Text,
  iso,
  isoOrNull,
  listParam,
  paging,
  requestSchemas,
  responseSchemas,
  Timestamp,
} from './common.js';
import { defineRoute } from './route.js';
import { confError } from './runs.js';
import { BACKFILL_STATES, RUN_STATES, type RunState } from '../../state/vocabulary.js';

const REPROCESS_BEHAVIORS = REPROCESS as ['none', 'failed', 'completed'];
const Conf = z.record(z.string(), z.unknown());

export const BackfillProgressJson = z
  .object({
    total: z.int().describe('Dates planned so far (all of them once plan_done)'),
    plan_done: z.boolean(),
    pending: z.int().describe('Dates not reached yet'),
    skipped: z.int().describe('Dates left alone: a run existed'),
    queued: z.int().describe("The backfill's runs (created or cleared) by state"),
    running: z.int(),
    succeeded: z.int(),
    failed: z.int(),
    running_tasks: z.int().describe('Task instances of its runs queued or running now'),
  })
  .register(responseSchemas, { id: 'BackfillProgress' });

export const BackfillJson = z
  .object({
    id: z.int(),
    dag_id: z.string(),
    from_date: Timestamp.describe('First logical date (inclusive)'),
    to_date: Timestamp.describe('Last logical date (inclusive)'),
    reprocess_behavior: z
      .enum(REPROCESS_BEHAVIORS)
      .describe(
        'none: leave existing runs alone; failed: run failed ones again; completed: failed and successful ones',
      ),
    max_active_runs: z.int().describe("The backfill's own limit, apart from the DAG's"),
    run_backwards: z.boolean().describe('Newest date first'),
    dag_run_conf: Conf.describe('The conf of the runs it creates; {} leaves a cleared run its own'),
    state: z.enum(BACKFILL_STATES),
    created_by: z.string(),
    created_at: Timestamp,
    completed_at: Timestamp.nullable().describe('When it completed or was cancelled'),
    planned: z.int().describe('Dates planned so far; the scheduler plans a large range in chunks'),
    plan_done: z.boolean(),
  })
  .register(responseSchemas, { id: 'Backfill' });

export const BackfillDetailJson = BackfillJson.extend({ progress: BackfillProgressJson }).register(responseSchemas, {
  id: 'BackfillDetail',
  description: 'A backfill with where it stands',
});

export const BackfillCollection = collection('backfills', BackfillJson, 'BackfillCollection');

export const DryRunDateJson = z
  .object({
    logical_date: Timestamp,
    action: z.enum(['create', 'clear', 'skip']).describe('Create a run, clear the existing one, or leave it alone'),
    reason: z.enum(['already exists', 'in flight']).nullable().describe('Why a date is skipped'),
    existing_run_id: z.string().nullable(),
    existing_state: z.enum(RUN_STATES).nullable(),
  })
  .register(responseSchemas, { id: 'DryRunBackfill' });

export const DryRunCollection = collection('backfills', DryRunDateJson, 'DryRunBackfillCollection');

export const BackfillDateJson = z
  .object({
    ordinal: z.int().describe("The date's place in the backfill's order, from 0"),
    logical_date: Timestamp,
    outcome: z.enum(['created', 'cleared', 'skipped']).nullable().describe('null: not reached yet'),
    reason: z.string().nullable().describe('Why a date was skipped'),
    dag_run_id: z.string().nullable().describe('The run it created or cleared, or the one it left alone'),
    run_state: z.enum(RUN_STATES).nullable(),
  })
  .register(responseSchemas, { id: 'BackfillDate' });

export const BackfillDateCollection = collection('dates', BackfillDateJson, 'BackfillDateCollection');

export const BackfillPost = z
  .strictObject({
    dag_id: Text.min(1),
    from_date: inputDate('First logical date (inclusive)'),
    to_date: inputDate('Last logical date (inclusive); a day without a time covers that whole day'),
    run_backwards: z.boolean().default(false).describe('Newest date first (default false)'),
    dag_run_conf: JsonObject.optional().describe(
      "The conf of every run, checked against the DAG's params (default {})",
    ),
    reprocess_behavior: z
      .enum(REPROCESS_BEHAVIORS, { error: `must be one of ${REPROCESS.join(', ')}` })
      .default('none')
      .describe('Default none'),
    max_active_runs: z
      .int()
      .min(1)
      .max(INT4_MAX)
      .default(10)
      .describe("At most this many of its runs at once, apart from the DAG's own limit (default 10)"),
  })
  .register(requestSchemas, { id: 'BackfillPost', description: 'A backfill of a DAG over a range of logical dates' });

const BackfillPath = z.strictObject({ backfill_id: intParam(1) });

const ListQuery = z.strictObject({
  ...paging,
  dag_id: Text.optional().describe('Backfills of this DAG'),
  state: listParam('Backfills in any of these states (repeat the parameter or separate with commas)', BACKFILL_STATES),
});

const DatesQuery = z.strictObject({
  ...paging,
  state: z
    .enum(RUN_STATES, { error: `must be one of ${RUN_STATES.join(', ')}` })
    .optional()
    .describe('Dates whose run is in this state'),
});

/** A backfill as the API answers it; with its progress, the shape of GET /backfills/{backfill_id}. */
export function backfillJson(info: BackfillInfo): z.input<typeof BackfillJson>;
export function backfillJson(info: BackfillInfo, progress: BackfillProgress): z.input<typeof BackfillDetailJson>;
export function backfillJson(
  info: BackfillInfo,
  progress?: BackfillProgress,
): z.input<typeof BackfillJson> | z.input<typeof BackfillDetailJson> {
  const json: z.input<typeof BackfillJson> = {
    id: info.id,
    dag_id: info.dagId,
    from_date: iso(info.from),
    to_date: iso(info.to),
    reprocess_behavior: info.reprocess,
    max_active_runs: info.maxActiveRuns,
    run_backwards: info.backwards,
    dag_run_conf: info.conf,
    state: info.state,
    created_by: info.createdBy,
    created_at: iso(info.createdAt),
    completed_at: isoOrNull(info.completedAt),
    planned: info.planned,
    plan_done: info.planDone,
  };
  return progress ? { ...json, progress: progressJson(progress) } : json;
}

export function progressJson(p: BackfillProgress): z.input<typeof BackfillProgressJson> {
  return {
    total: p.total,
    plan_done: p.planDone,
    pending: p.pending,
    skipped: p.skipped,
    queued: p.queued,
    running: p.running,
    succeeded: p.succeeded,
    failed: p.failed,
    running_tasks: p.runningTasks,
  };
}

export function dryRunJson(p: PlannedDate): z.input<typeof DryRunDateJson> {
  return {
    logical_date: iso(p.logicalDate),
    action: p.action,
    reason: p.reason ?? null,
    existing_run_id: p.existing?.runId ?? null,
    existing_state: (p.existing?.state as RunState | undefined) ?? null,
  };
}

export function backfillDateJson(d: BackfillDate): z.input<typeof BackfillDateJson> {
  return {
    ordinal: d.ordinal,
    logical_date: iso(d.logicalDate),
    outcome: d.outcome,
    reason: d.reason,
    dag_run_id: d.runId,
    run_state: d.runState as RunState | null,
  };
}

function requestOf(body: z.output<typeof BackfillPost>): BackfillRequest {
  return {
    dagId: body.dag_id,
    from: body.from_date,
    to: body.to_date,
    reprocess: body.reprocess_behavior,
    maxActiveRuns: body.max_active_runs,
    backwards: body.run_backwards,
    conf: body.dag_run_conf,
  };
}

/** The body field of each input the service names (InputError.field). */
const FIELDS: Record<string, string> = {
  from: 'from_date',
  to: 'to_date',
  reprocess: 'reprocess_behavior',
  maxActiveRuns: 'max_active_runs',
};

/** A refused request as a 400 naming its body field; a conf names its param (`dag_run_conf.region`). */
async function requestError(db: Db, body: z.output<typeof BackfillPost>, error: ConfigError): Promise<ApiError> {
  if (error instanceof InputError) return new ApiError(400, error.message, FIELDS[error.field] ?? error.field);
  if (error.message.startsWith('conf '))
    return confError(db, body.dag_id, body.dag_run_conf ?? {}, error, 'dag_run_conf');
  return new ApiError(400, error.message);
}

/** Runs `action` on the request; a refused input becomes a 400 naming its body field. */
async function checked<T>(
  db: Db,
  body: z.output<typeof BackfillPost>,
  action: (request: BackfillRequest) => Promise<T>,
): Promise<T> {
  try {
    return await action(requestOf(body));
  } catch (error) {
    throw error instanceof ConfigError ? await requestError(db, body, error) : error;
  }
}

async function detail(db: Db, info: BackfillInfo): Promise<z.input<typeof BackfillDetailJson>> {
  return backfillJson(info, await backfillProgress(db, info.id));
}

/** pause, unpause, cancel: the service changes the state (a 409 when the state refuses it) and audits it. */
function stateRoute(
  action: 'pause' | 'unpause' | 'cancel',
  change: (db: Db, id: number, actor: string) => Promise<BackfillInfo>,
  summary: string,
  description: string,
) {
  return defineRoute({
    method: 'post',
    path: `/backfills/{backfill_id}/${action}`,
    operationId: `${action}_backfill`,
    summary,
    description,
    tag: 'Backfill',
    params: BackfillPath,
    response: BackfillDetailJson,
    errors: [404, 409],
    handler: async ({ db, params, actor }) => detail(db, await change(db, params.backfill_id, actor())),
  });
}

export const backfillRoutes = [
  defineRoute({
    method: 'get',
    path: '/backfills',
    operationId: 'list_backfills',
    summary: 'List backfills, newest first',
    tag: 'Backfill',
    query: ListQuery,
    response: BackfillCollection,
    async handler({ db, query }) {
      const { backfills, total } = await listBackfills(db, {
        dagId: query.dag_id,
        states: query.state,
        limit: query.limit,
        offset: query.offset,
      });
      return { backfills: backfills.map((b) => backfillJson(b)), total_entries: total };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/backfills',
    operationId: 'create_backfill',
    summary: 'Create a backfill',
    description:
      'Stores the request; a scheduler plans its dates and starts their runs, at most max_active_runs at a time, paused DAGs included. Intervals that have not ended when it is created are left out. A DAG has at most one unfinished backfill: a second is refused (409). Recorded in the audit log.',
    tag: 'Backfill',
    body: BackfillPost,
    response: BackfillDetailJson,
    errors: [404, 409],
    handler: async ({ db, body, actor }) =>
      detail(db, await checked(db, body, (request) => createBackfill(db, request, actor()))),
  }),
  defineRoute({
    method: 'post',
    path: '/backfills/dry_run',
    operationId: 'create_backfill_dry_run',
    summary: 'What a backfill would do with each date',
    description:
      "Every date of the range in the backfill's order, with what it would do given the runs that exist now. Writes nothing.",
    tag: 'Backfill',
    body: BackfillPost,
    response: DryRunCollection,
    errors: [404, 409],
    async handler({ db, body }) {
      const planned = await checked(db, body, (request) => dryRunBackfill(db, request));
      return { backfills: planned.map(dryRunJson), total_entries: planned.length };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/backfills/{backfill_id}',
    operationId: 'get_backfill',
    summary: 'One backfill with its progress',
    tag: 'Backfill',
    params: BackfillPath,
    response: BackfillDetailJson,
    errors: [404],
    handler: async ({ db, params }) => detail(db, await getBackfill(db, params.backfill_id)),
  }),
  defineRoute({
    method: 'get',
    path: '/backfills/{backfill_id}/dates',
    operationId: 'get_backfill_dates',
    summary: "A backfill's dates in its order, with what happened to each",
    tag: 'Backfill',
    params: BackfillPath,
    query: DatesQuery,
    response: BackfillDateCollection,
    errors: [404],
    async handler({ db, params, query }) {
      const { dates, total } = await backfillDates(db, params.backfill_id, {
        limit: query.limit,
        offset: query.offset,
        state: query.state,
      });
      // An empty page: is the backfill unknown (404), or are there no dates (yet)?
      if (dates.length === 0) await getBackfill(db, params.backfill_id);
      return { dates: dates.map(backfillDateJson), total_entries: total };
    },
  }),
  stateRoute(
    'pause',
    pauseBackfill,
    'Pause a backfill',
    'No new date starts and its queued runs wait; runs already running finish. Only a running backfill can be paused (409 otherwise).',
  ),
  stateRoute(
    'unpause',
    resumeBackfill,
    'Resume a paused backfill',
    'It goes on where it stopped. Only a paused backfill can be unpaused (409 otherwise).',
  ),
  stateRoute(
    'cancel',
    cancelBackfill,
    'Cancel a backfill',
    'No new date starts and its unfinished runs are cancelled (running tasks are stopped, the runs fail); dates not reached stay without a run. Only a running or paused backfill can be cancelled (409 otherwise).',
  ),
];
