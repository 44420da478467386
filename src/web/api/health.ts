/** /health: whether the database answers. Public, as Airflow's: load balancers probe it without credentials. */
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { execute } from '../../db/execute.js';
import { problem } from '../problem.js';
import { responseSchemas } from './common.js';
import { defineRoute } from './route.js';

const Health = z
  .object({ status: z.literal('healthy'), metadatabase: z.object({ status: z.literal('healthy') }) })
  .register(responseSchemas, { id: 'Health' });

export const healthRoutes = [
  defineRoute({
    method: 'get',
    path: '/health',
    operationId: 'get_health',
    summary: 'Whether the database answers',
    description: 'Public (no guard). A 503 problem when the database does not answer.',
    tag: 'Monitoring',
    access: 'public',
    response: Health,
    errors: [503],
    async handler({ c, db }) {
      try {
        await execute(db, sql`select 1`);
      } catch {
        // Open to anyone: the reason (a host, a user name) is not shown; GET /health logs it.
        return problem(c, 503, 'the database does not answer');
      }
      return { status: 'healthy', metadatabase: { status: 'healthy' } } as const;
    },
  }),
];
