/** /importErrors: DAG files that failed to parse, with the file, line and message. */
import { asc, count, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { importErrors, type ImportErrorRow } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import { collection, iso, orderParam, paging, responseSchemas, Timestamp, totalOf } from './common.js';
import { defineRoute } from './route.js';

const ImportError = z
  .object({
    import_error_id: z.uuid(),
    filename: z.string().describe('Relative to the DAGs folder'),
    stack_trace: z.string().describe('What is wrong, naming the field'),
    line: z.int().nullable(),
    column: z.int().nullable(),
    timestamp: Timestamp,
  })
  .register(responseSchemas, { id: 'ImportError' });

const ImportErrorCollection = collection('import_errors', ImportError, 'ImportErrorCollection');

const ListQuery = z.strictObject({ ...paging, order_by: orderParam(['filename', 'timestamp'], 'filename') });

function toImportError(row: ImportErrorRow): z.input<typeof ImportError> {
  return {
    import_error_id: row.id,
    filename: row.file,
    stack_trace: row.message,
    line: row.line,
    column: row.column,
    timestamp: iso(row.createdAt),
  };
}

const ORDER_COLUMNS = { filename: importErrors.file, timestamp: importErrors.createdAt };

async function countAll(db: Db): Promise<number> {
  const [r] = await db.select({ n: count() }).from(importErrors);
  return r?.n ?? 0;
}

export const importErrorRoutes = [
  defineRoute({
    method: 'get',
    path: '/importErrors',
    operationId: 'get_import_errors',
    summary: 'List import errors',
    tag: 'ImportError',
    query: ListQuery,
    response: ImportErrorCollection,
    async handler({ db, query }) {
      const direction = query.order_by.descending ? desc : asc;
      const rows = await db
        .select({ row: importErrors, total: sql<number>`count(*) over ()`.mapWith(Number) })
        .from(importErrors)
        .orderBy(direction(ORDER_COLUMNS[query.order_by.field]), direction(importErrors.id))
        .limit(query.limit)
        .offset(query.offset);
      return {
        import_errors: rows.map((r) => toImportError(r.row)),
        total_entries: await totalOf(rows, query.offset, () => countAll(db)),
      };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/importErrors/{import_error_id}',
    operationId: 'get_import_error',
    summary: 'One import error',
    tag: 'ImportError',
    params: z.strictObject({ import_error_id: z.uuid({ error: 'must be a UUID, as import_error_id in the list' }) }),
    response: ImportError,
    errors: [404],
    async handler({ db, params }) {
      const [row] = await db.select().from(importErrors).where(eq(importErrors.id, params.import_error_id));
      if (!row) throw new NotFoundError(`no import error '${params.import_error_id}' (the file may parse now)`);
      return toImportError(row);
    },
  }),
];
