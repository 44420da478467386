/**
 * /eventLogs: the audit log (who paused, triggered, changed what), newest first along
 * audit_log_at_idx, filtered by DAG, run, task, event, owner and time.
 */
import { and, asc, count, desc, eq, gte, lte, sql } from 'drizzle-orm';
import { z } from 'zod';
import { auditLog, type AuditLogRow } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import { collection, inputDate, Text, iso, orderParam, paging, responseSchemas, Timestamp, totalOf } from './common.js';
import { readDates } from './dates.js';
import { defineRoute } from './route.js';

const EventLog = z
  .object({
    event_log_id: z.uuid(),
    when: Timestamp,
    event: z.string().describe("What was done: 'dag.pause', 'dag.unpause', 'dag.trigger', ..."),
    owner: z.string().describe("Who did it: 'web:<username>', 'cli:<user>', ..."),
    dag_id: z.string().nullable(),
    run_id: z.string().nullable(),
    task_id: z.string().nullable(),
    extra: z.record(z.string(), z.unknown()).describe("The change's details, e.g. a trigger's conf"),
  })
  .register(responseSchemas, { id: 'EventLog' });

const EventLogCollection = collection('event_logs', EventLog, 'EventLogCollection');

const ListQuery = z.strictObject({
  ...paging,
  dag_id: Text.optional(),
  run_id: Text.optional(),
  task_id: Text.optional(),
  event: Text.optional().describe("One event, e.g. 'dag.trigger'"),
  owner: Text.optional().describe("One actor, e.g. 'web:alice'"),
  after: inputDate('Events at or after this instant').optional(),
  before: inputDate('Events at or before this instant').optional(),
  order_by: orderParam(['when'], '-when'),
});

function toEventLog(row: AuditLogRow): z.input<typeof EventLog> {
  return {
    event_log_id: row.id,
    when: iso(row.at),
    event: row.action,
    owner: row.actor,
    dag_id: row.dagId,
    run_id: row.runId,
    task_id: row.taskId,
    extra: row.details as Record<string, unknown>,
  };
}

export const eventLogRoutes = [
  defineRoute({
    method: 'get',
    path: '/eventLogs',
    operationId: 'get_event_logs',
    summary: 'List audit log entries',
    tag: 'EventLog',
    query: ListQuery,
    response: EventLogCollection,
    async handler({ db, query }) {
      // Audit entries belong to no one DAG's timezone: a date without an offset is UTC.
      const { after, before } = await readDates(db, undefined, { after: query.after, before: query.before });
      const where = and(
        query.dag_id === undefined ? undefined : eq(auditLog.dagId, query.dag_id),
        query.run_id === undefined ? undefined : eq(auditLog.runId, query.run_id),
        query.task_id === undefined ? undefined : eq(auditLog.taskId, query.task_id),
        query.event === undefined ? undefined : eq(auditLog.action, query.event),
        query.owner === undefined ? undefined : eq(auditLog.actor, query.owner),
        after && gte(auditLog.at, after),
        before && lte(auditLog.at, before),
      );
      const direction = query.order_by.descending ? desc : asc;
      const rows = await db
        .select({ row: auditLog, total: sql<number>`count(*) over ()`.mapWith(Number) })
        .from(auditLog)
        .where(where)
        .orderBy(direction(auditLog.at), direction(auditLog.id))
        .limit(query.limit)
        .offset(query.offset);
      const total = await totalOf(rows, query.offset, async () => {
        const [r] = await db.select({ n: count() }).from(auditLog).where(where);
        return r?.n ?? 0;
      });
      return { event_logs: rows.map((r) => toEventLog(r.row)), total_entries: total };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/eventLogs/{event_log_id}',
    operationId: 'get_event_log',
    summary: 'One audit log entry',
    tag: 'EventLog',
    params: z.strictObject({ event_log_id: z.uuid({ error: 'must be a UUID, as event_log_id in the list' }) }),
    response: EventLog,
    errors: [404],
    async handler({ db, params }) {
      const [row] = await db.select().from(auditLog).where(eq(auditLog.id, params.event_log_id));
      if (!row) throw new NotFoundError(`no event log entry '${params.event_log_id}'`);
      return toEventLog(row);
    },
  }),
];
