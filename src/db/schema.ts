/**
 * The whole Updraft state, one pg-core schema for both drivers (node-postgres and PGlite).
 *
 * Conventions: uuid keys from gen_random_uuid(), timestamptz (UTC instants), snake_case
 * columns, states as enum types, JSON as jsonb with a CHECK on its shape. Every hot query
 * has an index here; the claim path reads partial indexes that finished work leaves.
 * After a change: `npm run db:generate` and commit the new file in drizzle/ (a test fails
 * when this file and the committed migrations disagree).
 */
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { BACKFILL_STATES, RUN_STATES, TASK_STATES, unfinishedPredicate } from '../state/vocabulary.js';

const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`);
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => at('created_at').notNull().defaultNow();
const updatedAt = () =>
  at('updated_at')
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date());

export const dagRunType = pgEnum('dag_run_type', ['scheduled', 'manual', 'backfill', 'dataset_triggered', 'event']);
export const dagRunState = pgEnum('dag_run_state', RUN_STATES);
/** NULL in task_instances.state is Airflow's "none" (not yet considered by the scheduler). */
export const taskState = pgEnum('task_state', TASK_STATES);
export const backfillState = pgEnum('backfill_state', BACKFILL_STATES);
/** Airflow 3's reprocess_behavior: which logical dates that already have a run are run again. */
export const reprocessBehavior = pgEnum('reprocess_behavior', ['none', 'failed', 'completed']);
/** What a backfill did with one logical date: created its run, cleared an existing one, or left it alone. */
export const backfillOutcome = pgEnum('backfill_outcome', ['created', 'cleared', 'skipped']);

export const dags = pgTable('dags', {
  id: id(),
  dagId: text('dag_id').notNull().unique(),
  /** Path relative to the DAGs folder. */
  file: text('file').notNull(),
  isPaused: boolean('is_paused').notNull(),
  /** False once the DAG's file is gone; the row and its history stay. */
  isActive: boolean('is_active').notNull().default(true),
  // dags <-> dag_versions reference each other, hence the callback.
  latestVersionId: uuid('latest_version_id').references((): AnyPgColumn => dagVersions.id, {
    onDelete: 'set null',
  }),
  schedule: text('schedule'),
  timezone: text('timezone').notNull(),
  description: text('description'),
  tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
  owner: text('owner'),
  /** Copied from the latest version: the scheduler and claims read them without the serialized DAG. */
  maxActiveRuns: integer('max_active_runs').notNull().default(16),
  maxActiveTasks: integer('max_active_tasks').notNull().default(16),
  /** Set for a DAG scheduled on datasets ({ uris, when }, docs/datasets.md); its `schedule` is null. */
  datasetSchedule: jsonb('dataset_schedule'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
  lastParsedAt: at('last_parsed_at'),
});

export const dagVersions = pgTable(
  'dag_versions',
  {
    id: id(),
    dagId: uuid('dag_id')
      .notNull()
      .references(() => dags.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    hash: text('hash').notNull(),
    serialized: jsonb('serialized').notNull(),
    /** The DAG file's code at this version, shown in the UI. */
    source: text('source').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique('dag_versions_dag_id_version_key').on(t.dagId, t.version),
    unique('dag_versions_dag_id_hash_key').on(t.dagId, t.hash),
    check('dag_versions_serialized_is_object', sql`jsonb_typeof(${t.serialized}) = 'object'`),
  ],
);

export const importErrors = pgTable('import_errors', {
  id: id(),
  file: text('file').notNull().unique(),
  message: text('message').notNull(),
  line: integer('line'),
  column: integer('column'),
  createdAt: createdAt(),
});

export const dagRuns = pgTable(
  'dag_runs',
  {
    id: id(),
    dagId: uuid('dag_id')
      .notNull()
      .references(() => dags.id, { onDelete: 'cascade' }),
    dagVersionId: uuid('dag_version_id').references(() => dagVersions.id),
    runId: text('run_id').notNull(),
    runType: dagRunType('run_type').notNull(),
    state: dagRunState('state').notNull().default('queued'),
    logicalDate: at('logical_date').notNull(),
    intervalStart: at('interval_start').notNull(),
    intervalEnd: at('interval_end').notNull(),
    runAfter: at('run_after').notNull(),
    conf: jsonb('conf').notNull().default(sql`'{}'::jsonb`),
    /** The backfill running this run (one it created, or an existing run it cleared); its own maxActiveRuns applies. */
    backfillId: integer('backfill_id').references((): AnyPgColumn => backfills.id, { onDelete: 'set null' }),
    queuedAt: at('queued_at'),
    startedAt: at('started_at'),
    endedAt: at('ended_at'),
    /** Why the DAG's last run callback (onSuccess / onFailure) failed; null when it did not (docs/callbacks.md). */
    callbackError: text('callback_error'),
    createdAt: createdAt(),
  },
  (t) => [
    // One run per (dag, logical date), whatever the number of schedulers.
    unique('dag_runs_dag_id_logical_date_key').on(t.dagId, t.logicalDate),
    unique('dag_runs_dag_id_run_id_key').on(t.dagId, t.runId),
    // The scheduler loop only looks at unfinished runs; finished ones leave the index.
    index('dag_runs_active_idx').on(t.state, t.dagId).where(sql`${t.state} in ('queued', 'running')`),
    check('dag_runs_conf_is_object', sql`jsonb_typeof(${t.conf}) = 'object'`),
    // A backfill counts its unfinished runs against its own maxActiveRuns.
    index('dag_runs_backfill_active_idx')
      .on(t.backfillId)
      .where(sql`${t.backfillId} is not null and ${t.state} in ('queued', 'running')`),
  ],
);

/**
 * A backfill (Airflow 3's model): a stored request to run a DAG over the schedule
 * intervals of a range, executed by whichever scheduler is running. Its plan is
 * written in chunks (backfill_runs), so a large range never stalls a scheduler pass.
 */
export const backfills = pgTable(
  'backfills',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    dagId: uuid('dag_id')
      .notNull()
      .references(() => dags.id, { onDelete: 'cascade' }),
    /** Logical dates from (inclusive) ... */
    fromDate: at('from_date').notNull(),
    /** ... to (inclusive); intervals not yet complete when the backfill was created are left out. */
    toDate: at('to_date').notNull(),
    reprocess: reprocessBehavior('reprocess').notNull(),
    maxActiveRuns: integer('max_active_runs').notNull(),
    backwards: boolean('backwards').notNull().default(false),
    conf: jsonb('conf').notNull().default(sql`'{}'::jsonb`),
    state: backfillState('state').notNull().default('running'),
    /** The plan so far: intervals written to backfill_runs, and where the next chunk starts (a logical date, exclusive). */
    planned: integer('planned').notNull().default(0),
    planCursor: at('plan_cursor'),
    planDone: boolean('plan_done').notNull().default(false),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    completedAt: at('completed_at'),
  },
  (t) => [
    // One unfinished backfill per DAG: running the same command again attaches to it.
    uniqueIndex('backfills_one_active_per_dag').on(t.dagId).where(sql`${t.state} in ('running', 'paused')`),
    check('backfills_conf_is_object', sql`jsonb_typeof(${t.conf}) = 'object'`),
    check('backfills_max_active_runs_positive', sql`${t.maxActiveRuns} > 0`),
  ],
);

/** A backfill's plan: one row per logical date, in the order they run (ordinal). */
export const backfillRuns = pgTable(
  'backfill_runs',
  {
    backfillId: integer('backfill_id')
      .notNull()
      .references(() => backfills.id, { onDelete: 'cascade' }),
    ordinal: integer('ordinal').notNull(),
    logicalDate: at('logical_date').notNull(),
    intervalStart: at('interval_start').notNull(),
    intervalEnd: at('interval_end').notNull(),
    /** NULL until the backfill reaches the date. */
    outcome: backfillOutcome('outcome'),
    /** Why a date was left alone: 'already exists', 'in flight', or why its run could not be cleared. */
    reason: text('reason'),
    dagRunId: uuid('dag_run_id').references(() => dagRuns.id, { onDelete: 'set null' }),
  },
  (t) => [
    primaryKey({ columns: [t.backfillId, t.ordinal] }),
    unique('backfill_runs_backfill_id_logical_date_key').on(t.backfillId, t.logicalDate),
    // The next dates to start: only those not reached yet.
    index('backfill_runs_pending_idx').on(t.backfillId, t.ordinal).where(sql`${t.outcome} is null`),
  ],
);

export const taskInstances = pgTable(
  'task_instances',
  {
    id: id(),
    runId: uuid('run_id')
      .notNull()
      .references(() => dagRuns.id, { onDelete: 'cascade' }),
    /** Denormalised from the run: claims count active tasks per DAG (maxActiveTasks). */
    dagId: uuid('dag_id')
      .notNull()
      .references(() => dags.id, { onDelete: 'cascade' }),
    taskId: text('task_id').notNull(),
    mapIndex: integer('map_index').notNull().default(-1),
    state: taskState('state'),
    tryNumber: integer('try_number').notNull().default(0),
    maxTries: integer('max_tries').notNull().default(0),
    priority: integer('priority').notNull().default(1),
    pool: text('pool').notNull().default('default_pool'),
    queue: text('queue').notNull().default('default'),
    operator: text('operator').notNull(),
    /** Copied from the run: claims take backfill work after other work of the same priority (docs/backfill.md). */
    backfill: boolean('backfill').notNull().default(false),
    scheduledAt: at('scheduled_at'),
    queuedAt: at('queued_at'),
    startedAt: at('started_at'),
    endedAt: at('ended_at'),
    heartbeatAt: at('heartbeat_at'),
    /** When an up_for_retry task may run again, or an up_for_reschedule sensor pokes again. */
    nextTryAt: at('next_try_at'),
    /**
     * A reschedule-mode sensor's first poke of its current try: its timeout counts from here
     * across reschedules. Null otherwise; reset by a clear and when the sensor ends or retries.
     */
    sensorStartedAt: at('sensor_started_at'),
    /** Worker id holding the task. */
    owner: text('owner'),
    /** Fencing token of the current claim: a result is accepted only with this lease. */
    lease: uuid('lease'),
    /**
     * The DAG version whose code the current (latest) try runs: the DAG's latest version
     * when the try was claimed, which may be newer than the run's (Airflow 3's dag_version_id).
     */
    dagVersionId: uuid('dag_version_id').references(() => dagVersions.id, { onDelete: 'set null' }),
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    unique('task_instances_run_id_task_id_map_index_key').on(t.runId, t.taskId, t.mapIndex),
    // Claimable work: small however long the history grows.
    index('task_instances_claimable_idx')
      .on(t.backfill, t.priority.desc(), t.scheduledAt)
      .where(sql`${t.state} = 'scheduled'`),
    // "Is this run done?" looks for any unfinished task of the run: one index probe. The
    // predicate names the finished states, so that unfinished states added later (up_for_reschedule)
    // are in it without naming them in a migration; queries must repeat it exactly (src/state/vocabulary.ts).
    index('task_instances_unfinished_idx')
      .on(t.runId)
      .where(sql.raw(unfinishedPredicate('"task_instances"."state"'))),
    // Claims count the slots in use per pool and per DAG.
    index('task_instances_active_pool_idx').on(t.pool).where(sql`${t.state} in ('queued', 'running')`),
    index('task_instances_active_dag_idx').on(t.dagId).where(sql`${t.state} in ('queued', 'running')`),
    // Reaper: claimed or running tasks whose owner stopped heartbeating.
    index('task_instances_running_heartbeat_idx').on(t.heartbeatAt).where(sql`${t.state} in ('queued', 'running')`),
    // Retry and reschedule promotion: up_for_retry / up_for_reschedule tasks whose time has come.
    // next_try_at is set only in those two states (every other transition writes null), and
    // `next_try_at <= now()` implies the predicate, so it needs no enum value in a migration.
    index('task_instances_retry_due_idx').on(t.nextTryAt).where(sql`${t.nextTryAt} is not null`),
  ],
);

/**
 * One row per try of a task instance: the DAG version whose code it ran. Written by the
 * claim statement itself (claim-tasks.ts), so a try costs no extra statement; a try
 * handed back and claimed again, or a sensor's reschedule, rewrites its own row.
 */
export const taskInstanceTries = pgTable(
  'task_instance_tries',
  {
    taskInstanceId: uuid('task_instance_id')
      .notNull()
      .references(() => taskInstances.id, { onDelete: 'cascade' }),
    tryNumber: integer('try_number').notNull(),
    dagVersionId: uuid('dag_version_id').references(() => dagVersions.id, { onDelete: 'set null' }),
  },
  (t) => [primaryKey({ columns: [t.taskInstanceId, t.tryNumber] })],
);

export const xcom = pgTable(
  'xcom',
  {
    id: id(),
    taskInstanceId: uuid('task_instance_id')
      .notNull()
      .references(() => taskInstances.id, { onDelete: 'cascade' }),
    key: text('key').notNull().default('return_value'),
    value: jsonb('value').notNull(),
    createdAt: createdAt(),
  },
  (t) => [unique('xcom_task_instance_id_key_key').on(t.taskInstanceId, t.key)],
);

export const taskLogs = pgTable(
  'task_logs',
  {
    // The one non-uuid key: log lines are append-only and read in insertion order.
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    taskInstanceId: uuid('task_instance_id')
      .notNull()
      .references(() => taskInstances.id, { onDelete: 'cascade' }),
    tryNumber: integer('try_number').notNull(),
    at: at('at').notNull().defaultNow(),
    level: text('level', { enum: ['debug', 'info', 'warn', 'error'] }).notNull(),
    message: text('message').notNull(),
  },
  (t) => [
    index('task_logs_task_instance_try_idx').on(t.taskInstanceId, t.tryNumber, t.id),
    check('task_logs_level_valid', sql`${t.level} in ('debug', 'info', 'warn', 'error')`),
  ],
);

/** Every change made by a person: who, what, when. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: id(),
    at: at('at').notNull().defaultNow(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    dagId: text('dag_id'),
    runId: text('run_id'),
    taskId: text('task_id'),
    details: jsonb('details').notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at.desc()),
    check('audit_log_details_is_object', sql`jsonb_typeof(${t.details}) = 'object'`),
  ],
);

/** Slots shared across DAGs. 'default_pool' (128 slots) is seeded by a migration. */
export const pools = pgTable(
  'pools',
  {
    id: id(),
    name: text('name').notNull().unique(),
    slots: integer('slots').notNull(),
    description: text('description'),
  },
  (t) => [check('pools_slots_non_negative', sql`${t.slots} >= 0`)],
);

/**
 * Named connections stored by `updraft connections add`. The URL (with its password) is
 * encrypted with UPDRAFT_SECRET_KEY (src/connections/secret.ts); `display_url` is the
 * same URL with the password masked, safe to print.
 */
export const connections = pgTable(
  'connections',
  {
    id: id(),
    name: text('name').notNull().unique(),
    connType: text('conn_type').notNull().default('postgres'),
    description: text('description'),
    urlEncrypted: text('url_encrypted').notNull(),
    displayUrl: text('display_url').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [check('connections_conn_type_valid', sql`${t.connType} in ('postgres')`)],
);

/** What an operator keeps between runs of one task (a sync's high-water mark), by key. */
export const operatorState = pgTable(
  'operator_state',
  {
    dagId: text('dag_id').notNull(),
    taskId: text('task_id').notNull(),
    key: text('key').notNull(),
    value: jsonb('value').notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.dagId, t.taskId, t.key] })],
);

/** Reports rendered by the report operator, one per task try that succeeded. */
export const reports = pgTable(
  'reports',
  {
    id: id(),
    taskInstanceId: uuid('task_instance_id')
      .notNull()
      .references(() => taskInstances.id, { onDelete: 'cascade' }),
    dagId: text('dag_id').notNull(),
    runId: text('run_id').notNull(),
    taskId: text('task_id').notNull(),
    tryNumber: integer('try_number').notNull(),
    format: text('format').notNull(),
    title: text('title').notNull(),
    content: text('content').notNull(),
    rows: integer('rows').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('reports_dag_created_idx').on(t.dagId, t.createdAt.desc()),
    unique('reports_task_instance_try_key').on(t.taskInstanceId, t.tryNumber),
    check('reports_format_valid', sql`${t.format} in ('csv', 'json', 'markdown', 'html')`),
  ],
);

/**
 * People who use the web UI and API (src/auth/). Usernames are stored in lower case (they
 * are case-insensitive); the password is an scrypt hash with its salt and parameters
 * (src/auth/passwords.ts). The roles are src/auth/types.ts's ROLES.
 */
export const users = pgTable(
  'users',
  {
    id: id(),
    username: text('username').notNull().unique(),
    role: text('role', { enum: ['viewer', 'operator', 'admin'] }).notNull(),
    passwordHash: text('password_hash').notNull(),
    disabled: boolean('disabled').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check('users_role_valid', sql`${t.role} in ('viewer', 'operator', 'admin')`),
    check('users_username_lower_case', sql`${t.username} = lower(${t.username})`),
  ],
);

/** API tokens (Bearer). Only the token's sha256 is kept: the token itself is shown once. */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: id(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: createdAt(),
    /** Updated at most once a minute, so that a busy client does not write on every request. */
    lastUsedAt: at('last_used_at'),
    expiresAt: at('expires_at'),
    revokedAt: at('revoked_at'),
  },
  (t) => [index('api_tokens_user_id_idx').on(t.userId)],
);

/**
 * Logins of the web UI. The cookie holds a random value whose sha256 is `id_hash`: a
 * leaked table does not hand out sessions, and `id` never leaves the server.
 */
export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    idHash: text('id_hash').notNull().unique(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    createdAt: createdAt(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [
    index('sessions_user_id_idx').on(t.userId),
    // Expired sessions are deleted in bulk at each login.
    index('sessions_expires_at_idx').on(t.expiresAt),
  ],
);

/** One row per running scheduler, touched every heartbeat interval: /health's "last scheduler heartbeat", from any process. */
export const schedulerHeartbeats = pgTable('scheduler_heartbeats', {
  /** The process identity (host:pid:random), as in task_instances.owner. */
  owner: text('owner').primaryKey(),
  hostname: text('hostname').notNull(),
  pid: integer('pid').notNull(),
  startedAt: at('started_at').notNull().defaultNow(),
  heartbeatAt: at('heartbeat_at').notNull().defaultNow(),
});

/** A dataset (Airflow 2's Dataset): a URI tasks update and DAGs are scheduled on. See docs/datasets.md. */
export const datasets = pgTable('datasets', {
  id: id(),
  uri: text('uri').notNull().unique(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** One success of a task that updates the dataset. The source is kept as text: it outlives the run's deletion. */
export const datasetEvents = pgTable(
  'dataset_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    sourceDagId: text('source_dag_id').notNull(),
    sourceRunId: text('source_run_id').notNull(),
    sourceTaskId: text('source_task_id').notNull(),
    sourceTryNumber: integer('source_try_number').notNull(),
    extra: jsonb('extra').notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
  },
  (t) => [
    // A dataset's recent events (the datasets page, /api/v1/datasets/events?uri=).
    index('dataset_events_dataset_id_idx').on(t.datasetId, t.id),
    check('dataset_events_extra_is_object', sql`jsonb_typeof(${t.extra}) = 'object'`),
  ],
);

/**
 * Events not yet consumed by a DAG scheduled on their dataset (Airflow's DatasetDagRunQueue,
 * one row per event rather than per dataset, so a run consumes exactly the events it saw).
 * A paused DAG's rows stay until it runs.
 */
export const datasetDagRunQueue = pgTable(
  'dataset_dag_run_queue',
  {
    dagId: uuid('dag_id')
      .notNull()
      .references(() => dags.id, { onDelete: 'cascade' }),
    eventId: bigint('event_id', { mode: 'number' })
      .notNull()
      .references(() => datasetEvents.id, { onDelete: 'cascade' }),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.dagId, t.eventId] })],
);

/** The events a dataset-triggered run was created for (Airflow's dagrun_dataset_event). */
export const dagRunDatasetEvents = pgTable(
  'dag_run_dataset_events',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => dagRuns.id, { onDelete: 'cascade' }),
    eventId: bigint('event_id', { mode: 'number' })
      .notNull()
      .references(() => datasetEvents.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.runId, t.eventId] }), index('dag_run_dataset_events_event_id_idx').on(t.eventId)],
);

/** Which DAGs are scheduled on which datasets: written when DAGs are stored, so links show before any event. */
export const dagScheduleDatasetRefs = pgTable(
  'dag_schedule_dataset_refs',
  {
    dagId: uuid('dag_id')
      .notNull()
      .references(() => dags.id, { onDelete: 'cascade' }),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
  },
  (t) => [
    primaryKey({ columns: [t.dagId, t.datasetId] }),
    index('dag_schedule_dataset_refs_dataset_id_idx').on(t.datasetId),
  ],
);

/** Which tasks update which datasets (their outlets), written when DAGs are stored. */
export const taskOutletDatasetRefs = pgTable(
  'task_outlet_dataset_refs',
  {
    dagId: uuid('dag_id')
      .notNull()
      .references(() => dags.id, { onDelete: 'cascade' }),
    taskId: text('task_id').notNull(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
  },
  (t) => [
    primaryKey({ columns: [t.dagId, t.taskId, t.datasetId] }),
    index('task_outlet_dataset_refs_dataset_id_idx').on(t.datasetId),
  ],
);

export type DagRow = typeof dags.$inferSelect;
export type DagVersionRow = typeof dagVersions.$inferSelect;
export type ImportErrorRow = typeof importErrors.$inferSelect;
export type DagRunRow = typeof dagRuns.$inferSelect;
export type TaskInstanceRow = typeof taskInstances.$inferSelect;
export type XcomRow = typeof xcom.$inferSelect;
export type TaskLogRow = typeof taskLogs.$inferSelect;
export type AuditLogRow = typeof auditLog.$inferSelect;
export type PoolRow = typeof pools.$inferSelect;
export type ConnectionRow = typeof connections.$inferSelect;
export type ReportRow = typeof reports.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;

/**
 * Callbacks owed for task and run ends that no executor saw (docs/callbacks.md): the
 * scheduler's reaper writes one in the transaction that fails or retries a lost task,
 * and executors take them (delete ... SKIP LOCKED) and run them, as Airflow's database
 * callback sink. An executor's own commits run their callbacks at once and write none.
 */
export const callbackRequests = pgTable(
  'callback_requests',
  {
    id: id(),
    runId: uuid('run_id')
      .notNull()
      .references(() => dagRuns.id, { onDelete: 'cascade' }),
    /** Null for a run callback. */
    taskInstanceId: uuid('task_instance_id').references(() => taskInstances.id, { onDelete: 'cascade' }),
    tryNumber: integer('try_number'),
    callback: text('callback').notNull(),
    /** The task's or run's final state the callback is told about. */
    state: text('state').notNull(),
    error: text('error'),
    nextTryAt: at('next_try_at'),
    createdAt: createdAt(),
  },
  (t) => [check('callback_requests_callback', sql`${t.callback} in ('onSuccess', 'onFailure', 'onRetry')`)],
);

/**
 * Event triggers (src/events/): the dedupe keys of the events that started runs. Written
 * in the transaction that creates the run, so an event seen twice (a NOTIFY resent, a
 * queue row consumed again after a crash) starts one run at most.
 */
export const eventKeys = pgTable(
  'event_keys',
  {
    dagId: uuid('dag_id')
      .notNull()
      .references(() => dags.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    /** The run the event started (null once that run is deleted). */
    runId: uuid('run_id').references(() => dagRuns.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.dagId, t.key] }), index('event_keys_run_id_idx').on(t.runId)],
);

/** Event triggers in watermark mode: the last value of the watched column that started a run. */
export const eventWatermarks = pgTable('event_watermarks', {
  dagId: uuid('dag_id')
    .primaryKey()
    .references(() => dags.id, { onDelete: 'cascade' }),
  /** The watched table and column, so that a DAG that changes them starts over. */
  source: text('source').notNull(),
  /** The column's value as PostgreSQL's text; compared as the column's type. */
  value: text('value'),
  updatedAt: updatedAt(),
});
