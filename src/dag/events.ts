/**
 * The `events` option of a DAG: a PostgreSQL NOTIFY channel or new rows in a table of a
 * named connection start runs (docs/event-triggers.md). Validated here once; the
 * compiled form is plain data stored in the serialized DAG, so the scheduler knows a
 * DAG's sources without importing its file.
 */
import { z } from 'zod';
import { CONNECTION_NAME, CONNECTION_NAME_HINT } from './connection-name.js';
import { describeIssues, durationField } from '../util/validation.js';
import { formatDuration, type Duration } from '../util/duration.js';

/** What a DAG file writes. */
export interface EventsOptions {
  /** The named connection of the source database (UPDRAFT_CONN_<NAME> or `updraft connections add`). */
  conn: string;
  /** Start a run when a NOTIFY arrives on `channel`; its payload becomes the run's conf. */
  notify?: {
    channel: string;
    /** A field of the JSON payload: a second event with the same value starts no run. Default: none (every event counts). */
    dedupeKey?: string;
  };
  /** Start a run when rows land in `name` (schema.table). */
  table?: {
    name: string;
    /**
     * 'queue' (default): an AFTER INSERT trigger copies each new row into a queue table
     * that Updraft consumes; rows inserted while Updraft is down are not lost.
     * 'watermark': poll `column > last value seen`, no trigger needed.
     */
    mode?: 'queue' | 'watermark';
    /** The increasing column a watermark follows (required with mode 'watermark'). */
    column?: string;
    /** How often the table is looked at without a notification. Default '5s'. */
    poll?: Duration;
    /** The queue table Updraft creates in the source database. Default 'updraft_event_queue' (in the watched table's schema). */
    queueTable?: string;
  };
  /** Wait until no event came for this long, then start one run for all of them (`{ events: [...] }`). Default: none. */
  debounce?: Duration;
  /** With `debounce`: a batch starts its run at the latest this long after its first event, even while events keep coming. Default: 5 debounces. */
  maxWait?: Duration;
  /** At most this many events in one run; a batch this size starts its run at once. Default 100 when batching. */
  maxBatch?: number;
}

/** The compiled, stored form. */
export interface EventsSpec {
  conn: string;
  source:
    | { kind: 'notify'; channel: string; dedupeKey: string | null }
    | { kind: 'queue'; table: string; queueTable: string; pollMs: number }
    | { kind: 'watermark'; table: string; column: string; pollMs: number };
  debounceMs: number | null;
  /** The longest a batch waits after its first event (null without a debounce; see batching.ts). */
  maxWaitMs: number | null;
  /** null: every event starts its own run. */
  maxBatch: number | null;
}

const name = z.string().min(1);
const schema = z.strictObject({
  conn: z.string().regex(CONNECTION_NAME, { message: CONNECTION_NAME_HINT }),
  notify: z.strictObject({ channel: name.max(63), dedupeKey: name.optional() }).optional(),
  table: z
    .strictObject({
      name,
      mode: z.enum(['queue', 'watermark']).optional(),
      column: name.optional(),
      poll: durationField.refine((ms) => ms >= 100, { message: 'must be at least 100ms' }).optional(),
      queueTable: name.optional(),
    })
    .optional(),
  debounce: durationField.refine((ms) => ms > 0, { message: 'must be longer than 0' }).optional(),
  maxWait: durationField.optional(),
  maxBatch: z.number().int().min(1).max(10_000).optional(),
});

/** Thrown with the field path under `events`; options.ts turns it into a DagDefinitionError. */
export class EventsOptionError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function compileEvents(options: unknown): EventsSpec {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const field = ['events', ...(parsed.error.issues[0]?.path.map(String) ?? [])].join('.');
    throw new EventsOptionError(field, describeIssues(parsed.error, 'events'));
  }
  const o = parsed.data;
  const fail = (field: string, message: string): never => {
    throw new EventsOptionError(`events.${field}`, `events.${field}: ${message}`);
  };
  if (!o.notify === !o.table)
    fail(o.notify ? 'table' : 'notify', 'give exactly one source: notify: { channel } or table: { name }');
  let source: EventsSpec['source'];
  if (o.notify) {
    source = { kind: 'notify', channel: o.notify.channel, dedupeKey: o.notify.dedupeKey ?? null };
  } else {
    const t = o.table!;
    const mode = t.mode ?? 'queue';
    if (t.name.split('.').length > 2) fail('table.name', `'${t.name}': expected table or schema.table`);
    const pollMs = t.poll ?? 5_000;
    if (mode === 'watermark') {
      if (!t.column)
        fail('table.column', "required with mode 'watermark' (an increasing column such as an id or a created_at)");
      if (t.queueTable) fail('table.queueTable', "only with mode 'queue'");
      source = { kind: 'watermark', table: t.name, column: t.column!, pollMs };
    } else {
      if (t.column) fail('table.column', "only with mode 'watermark' (the queue form takes every inserted row)");
      const queueTable = t.queueTable ?? 'updraft_event_queue';
      if (queueTable.includes('.'))
        fail('table.queueTable', `'${queueTable}': give a table name only; it is created in the schema of ${t.name}`);
      source = { kind: 'queue', table: t.name, queueTable, pollMs };
    }
  }
  if (o.maxBatch !== undefined && o.debounce === undefined && source.kind === 'notify') {
    fail('maxBatch', 'with a notify source it caps a debounced batch: set debounce too');
  }
  if (o.maxWait !== undefined) {
    if (o.debounce === undefined) fail('maxWait', 'caps how long a debounce waits: set debounce too');
    if (o.maxWait < o.debounce!) fail('maxWait', `must be at least the debounce (${formatDuration(o.debounce!)})`);
  }
  const batching = o.debounce !== undefined || o.maxBatch !== undefined;
  const debounceMs = o.debounce ?? null;
  return {
    conn: o.conn.toLowerCase(),
    source,
    debounceMs,
    maxWaitMs: debounceMs === null ? null : (o.maxWait ?? debounceMs * MAX_WAIT_DEBOUNCES),
    maxBatch: batching ? (o.maxBatch ?? 100) : null,
  };
}

/** How the UI and the CLI name a DAG's trigger: "on NOTIFY app_db/new_orders". */
export function describeEvents(spec: EventsSpec): string {
  const s = spec.source;
  const batch =
    spec.debounceMs !== null
      ? `, debounced ${formatDuration(spec.debounceMs)} (at most ${formatDuration(batchRule(spec).maxWaitMs!)})`
      : spec.maxBatch !== null
        ? `, batches of ${spec.maxBatch}`
        : '';
  if (s.kind === 'notify')
    return `on NOTIFY ${spec.conn}/${s.channel}${s.dedupeKey ? ` (dedupe by ${s.dedupeKey})` : ''}${batch}`;
  if (s.kind === 'queue') return `on new rows in ${spec.conn} ${s.table} (queue)${batch}`;
  return `on new rows in ${spec.conn} ${s.table} (watermark on ${s.column})${batch}`;
}

/** When a source's pending events start a run (events/batching.ts applies it); part of the spec, which describeEvents shows. */
export interface BatchRule {
  debounceMs: number | null;
  maxWaitMs: number | null;
  maxBatch: number | null;
}

/** A debounce's default maximum wait: this many debounces. */
export const MAX_WAIT_DEBOUNCES = 5;

/** The rule of a stored spec (one stored before `maxWait` existed waits the default). */
export function batchRule(
  spec: Pick<EventsSpec, 'debounceMs' | 'maxBatch'> & { maxWaitMs?: number | null },
): BatchRule {
  const { debounceMs, maxBatch } = spec;
  return {
    debounceMs,
    maxBatch,
    maxWaitMs: debounceMs === null ? null : (spec.maxWaitMs ?? debounceMs * MAX_WAIT_DEBOUNCES),
  };
}
