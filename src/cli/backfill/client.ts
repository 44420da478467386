/**
 * What `updraft backfill` asks of the deployment, in two forms: straight on the database
 * (PostgreSQL, or the embedded database when no other process holds it), or through the
 * API of the `standalone` that holds the embedded database (local-server.ts).
 */
import { sql } from 'drizzle-orm';
import { getDag } from '../../catalog/dags.js';
import {
  activeBackfill,
  createBackfill,
  dryRunBackfill,
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
  type BackfillState,
} from '../../backfill/read.js';
import { ACTOR_HEADER } from '../../web/auth/middleware.js';
import type { Db } from '../../db/client.js';
import { execute } from '../../db/execute.js';
import { ConfigError, NotFoundError, UpdraftError } from '../../errors.js';
import type { LocalServer } from '../local-server.js';

export interface BackfillStatus {
  backfill: BackfillInfo;
  progress: BackfillProgress;
}

export interface BackfillClient {
  /** The DAG's timezone, in which the range's dates are read. */
  timezone(dagId: string): Promise<string>;
  dryRun(request: BackfillRequest): Promise<PlannedDate[]>;
  active(dagId: string): Promise<BackfillInfo | null>;
  create(request: BackfillRequest): Promise<BackfillInfo>;
  get(id: number): Promise<BackfillInfo>;
  /** The backfill and where it stands. */
  status(id: number): Promise<BackfillStatus>;
  list(filter: {
    dagId?: string;
    states?: BackfillState[];
    limit?: number;
  }): Promise<{ backfills: BackfillInfo[]; total: number }>;
  dates(
    id: number,
    page: { limit?: number; offset?: number; state?: string },
  ): Promise<{ dates: BackfillDate[]; total: number }>;
  pause(id: number): Promise<BackfillInfo>;
  resume(id: number): Promise<BackfillInfo>;
  cancel(id: number): Promise<BackfillInfo>;
  /** Whether some scheduler is alive to run the backfill (a heartbeat in the last `withinMs`). */
  schedulerAlive(withinMs: number): Promise<boolean>;
}

export function directClient(db: Db, actor: string): BackfillClient {
  return {
    timezone: async (dagId) => (await getDag(db, dagId)).serialized.timezone,
    dryRun: (request) => dryRunBackfill(db, request),
    active: (dagId) => activeBackfill(db, dagId),
    create: (request) => createBackfill(db, request, actor),
    get: (id) => getBackfill(db, id),
    status: async (id) => ({ backfill: await getBackfill(db, id), progress: await backfillProgress(db, id) }),
    list: (filter) => listBackfills(db, filter),
    dates: (id, page) => backfillDates(db, id, page),
    pause: (id) => pauseBackfill(db, id, actor),
    resume: (id) => resumeBackfill(db, id, actor),
    cancel: (id) => cancelBackfill(db, id, actor),
    async schedulerAlive(withinMs) {
      const { rows } = await execute<{ alive: boolean }>(
        db,
        sql`select exists (select 1 from scheduler_heartbeats where heartbeat_at > now() - make_interval(secs => ${withinMs / 1000})) as alive`,
      );
      return rows[0]?.alive === true;
    },
  };
}

// The API's JSON (src/web/api/backfills.ts), read back into the service's types.
type Json = Record<string, unknown>;

function info(json: Json): BackfillInfo {
  return {
    id: json.id as number,
    dagId: json.dag_id as string,
    from: new Date(json.from_date as string),
    to: new Date(json.to_date as string),
    reprocess: json.reprocess_behavior as BackfillInfo['reprocess'],
    maxActiveRuns: json.max_active_runs as number,
    backwards: json.run_backwards as boolean,
    conf: json.dag_run_conf as Record<string, unknown>,
    state: json.state as BackfillState,
    planned: json.planned as number,
    planDone: json.plan_done as boolean,
    createdBy: json.created_by as string,
    createdAt: new Date(json.created_at as string),
    completedAt: json.completed_at ? new Date(json.completed_at as string) : null,
  };
}

function progress(json: Json): BackfillProgress {
  return {
    total: json.total as number,
    planDone: json.plan_done as boolean,
    pending: json.pending as number,
    skipped: json.skipped as number,
    queued: json.queued as number,
    running: json.running as number,
    succeeded: json.succeeded as number,
    failed: json.failed as number,
    runningTasks: json.running_tasks as number,
  };
}

function body(request: BackfillRequest): Json {
  const date = (d: Date | string) => (d instanceof Date ? d.toISOString() : d);
  return {
    dag_id: request.dagId,
    from_date: date(request.from),
    to_date: date(request.to),
    ...(request.reprocess ? { reprocess_behavior: request.reprocess } : {}),
    ...(request.maxActiveRuns ? { max_active_runs: request.maxActiveRuns } : {}),
    ...(request.backwards ? { run_backwards: true } : {}),
    ...(request.conf ? { dag_run_conf: request.conf } : {}),
  };
}

/** The client of standalone's API; its errors come back as the service's (the problem's detail is the same message). */
export function httpClient(server: LocalServer, actor: string): BackfillClient {
  const call = async (method: 'GET' | 'POST', path: string, payload?: Json, base = '/api/v1'): Promise<Json> => {
    let response: Response;
    try {
      response = await fetch(`${server.url}${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${server.token}`,
          [ACTOR_HEADER]: actor,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
        body: payload ? JSON.stringify(payload) : undefined,
      });
    } catch (error) {
      throw new UpdraftError(
        `cannot reach standalone (pid ${server.pid}) at ${server.url}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const json = (await response.json().catch(() => ({}))) as Json;
    if (response.ok) return json;
    const detail = typeof json.detail === 'string' ? json.detail : `HTTP ${response.status}`;
    if (response.status === 404) throw new NotFoundError(detail);
    if (response.status === 400) throw new ConfigError(detail);
    throw new UpdraftError(detail);
  };
  const query = (params: Record<string, string | number | undefined>) => {
    const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined);
    return entries.length === 0
      ? ''
      : `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
  };
  return {
    timezone: async (dagId) => (await call('GET', `/dags/${encodeURIComponent(dagId)}`)).timezone as string,
    async dryRun(request) {
      const json = await call('POST', '/backfills/dry_run', body(request));
      return (json.backfills as Json[]).map((d) => ({
        logicalDate: new Date(d.logical_date as string),
        action: d.action as PlannedDate['action'],
        ...(d.reason ? { reason: d.reason as PlannedDate['reason'] } : {}),
        ...(d.existing_run_id
          ? { existing: { runId: d.existing_run_id as string, state: d.existing_state as string } }
          : {}),
      }));
    },
    async active(dagId) {
      const json = await call('GET', `/backfills${query({ dag_id: dagId, state: 'running,paused', limit: 1 })}`);
      const [first] = json.backfills as Json[];
      return first ? info(first) : null;
    },
    create: async (request) => info(await call('POST', '/backfills', body(request))),
    get: async (id) => info(await call('GET', `/backfills/${id}`)),
    async status(id) {
      const json = await call('GET', `/backfills/${id}`);
      return { backfill: info(json), progress: progress(json.progress as Json) };
    },
    async list(filter) {
      const json = await call(
        'GET',
        `/backfills${query({ dag_id: filter.dagId, state: filter.states?.join(','), limit: filter.limit })}`,
      );
      return { backfills: (json.backfills as Json[]).map(info), total: json.total_entries as number };
    },
    async dates(id, page) {
      const json = await call('GET', `/backfills/${id}/dates${query(page)}`);
      return {
        dates: (json.dates as Json[]).map((d) => ({
          ordinal: d.ordinal as number,
          logicalDate: new Date(d.logical_date as string),
          outcome: d.outcome as BackfillDate['outcome'],
          reason: (d.reason as string | null) ?? null,
          runId: (d.dag_run_id as string | null) ?? null,
          runState: (d.run_state as string | null) ?? null,
        })),
        total: json.total_entries as number,
      };
    },
    pause: async (id) => info(await call('POST', `/backfills/${id}/pause`)),
    resume: async (id) => info(await call('POST', `/backfills/${id}/unpause`)),
    cancel: async (id) => info(await call('POST', `/backfills/${id}/cancel`)),
    // /health counts the schedulers with a fresh heartbeat (standalone's own, normally).
    schedulerAlive: async () =>
      ((((await call('GET', '/health', undefined, '')).scheduler as Json | null)?.alive as number | undefined) ?? 0) >
      0,
  };
}
