/**
 * /pools: slots shared across DAGs and how many are taken. Each pool's running and
 * queued counts come from a lateral probe of task_instances_active_pool_idx, in the
 * same query as the page.
 */
import { asc, count, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { pools, taskInstances } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import { collection, orderParam, Text, paging, responseSchemas, totalOf } from './common.js';
import { defineRoute } from './route.js';

const Pool = z
  .object({
    name: z.string(),
    slots: z.int(),
    occupied_slots: z.int().describe('running_slots + queued_slots'),
    running_slots: z.int(),
    queued_slots: z.int(),
    open_slots: z.int().describe('slots - occupied_slots (negative when the pool was shrunk below its use)'),
    description: z.string().nullable(),
  })
  .register(responseSchemas, { id: 'Pool' });

const PoolCollection = collection('pools', Pool, 'PoolCollection');

const ListQuery = z.strictObject({ ...paging, order_by: orderParam(['name'], 'name') });

function selectPools(db: Db) {
  const used = db
    .select({
      running: sql<number>`count(*) filter (where ${taskInstances.state} = 'running')`.mapWith(Number).as('running'),
      queued: sql<number>`count(*) filter (where ${taskInstances.state} = 'queued')`.mapWith(Number).as('queued'),
    })
    .from(taskInstances)
    .where(sql`${taskInstances.pool} = ${pools.name} and ${taskInstances.state} in ('queued', 'running')`)
    .as('used');
  return db
    .select({
      pool: pools,
      running: used.running,
      queued: used.queued,
      total: sql<number>`count(*) over ()`.mapWith(Number),
    })
    .from(pools)
    .leftJoinLateral(used, sql`true`);
}

function toPool({ pool, running, queued }: Awaited<ReturnType<typeof selectPools>>[number]): z.input<typeof Pool> {
  const occupied = (running ?? 0) + (queued ?? 0);
  return {
    name: pool.name,
    slots: pool.slots,
    occupied_slots: occupied,
    running_slots: running ?? 0,
    queued_slots: queued ?? 0,
    open_slots: pool.slots - occupied,
    description: pool.description,
  };
}

export const poolRoutes = [
  defineRoute({
    method: 'get',
    path: '/pools',
    operationId: 'get_pools',
    summary: 'List pools with their slots in use',
    tag: 'Pool',
    query: ListQuery,
    response: PoolCollection,
    async handler({ db, query }) {
      const rows = await selectPools(db)
        .orderBy(query.order_by.descending ? desc(pools.name) : asc(pools.name))
        .limit(query.limit)
        .offset(query.offset);
      const total = await totalOf(rows, query.offset, async () => {
        const [r] = await db.select({ n: count() }).from(pools);
        return r?.n ?? 0;
      });
      return { pools: rows.map(toPool), total_entries: total };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/pools/{pool_name}',
    operationId: 'get_pool',
    summary: 'One pool',
    tag: 'Pool',
    params: z.strictObject({ pool_name: Text }),
    response: Pool,
    errors: [404],
    async handler({ db, params }) {
      const [row] = await selectPools(db).where(eq(pools.name, params.pool_name));
      if (!row) throw new NotFoundError(`no pool '${params.pool_name}'`);
      return toPool(row);
    },
  }),
];
