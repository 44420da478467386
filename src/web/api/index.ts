/**
 * The REST API under /api/v1, resources named after Airflow's stable API. Mount it with the
 * guards of the authentication in front:
 *
 *   app.route('/', apiRoutes(db, { read: requireViewer, operate: requireOperator }));
 */
import { z } from 'zod';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { Db } from '../../db/client.js';
import { describeDatabaseError, describeError } from '../../db/errors.js';
import { errorFields } from '../../log.js';
import type { Logger } from '../../log.js';
import { responseSchemas } from './common.js';
import { dagRoutes } from './dags.js';
import { datasetRoutes } from './datasets.js';
import { eventLogRoutes } from './event-logs.js';
import { healthRoutes } from './health.js';
import { importErrorRoutes } from './import-errors.js';
import { logRoutes } from './logs.js';
import { authRouteDocs } from './auth-doc.js';
import { openApiDocument, type OpenApiDocument } from './openapi.js';
import { poolRoutes } from './pools.js';
import { actionRoutes } from './actions.js';
import { backfillRoutes } from './backfills.js';
import { defineRoute, mountRoutes, type AnyRoute } from './route.js';
import { runRoutes } from './runs.js';
import { mappedTaskInstanceRoutes, taskInstanceRoutes } from './task-instances.js';
import { xcomRoutes } from './xcom.js';

export const API_BASE = '/api/v1';
const API_VERSION = '1.0.0';

export interface ApiOptions {
  /** Runs before every GET but /health (which load balancers probe without credentials). */
  read: MiddlewareHandler;
  /** Runs before every change: PATCH of a DAG (pause), POST of a run (trigger). */
  operate: MiddlewareHandler;
  /** Who a change is recorded as in the audit log. Default: 'web:<username>' of the `user` the authentication set. */
  actor?: (c: Context) => string;
  /** Check every answer against its documented schema; a mismatch is a 500. Default false (tests turn it on). */
  checkResponses?: boolean;
  /** Where unexpected errors (answered with a 500) are logged; a database error without its SQL and parameters. Default: console.error. */
  log?: Pick<Logger, 'error'>;
  /** Told of every unexpected error instead of logging it (tests). */
  onError?: (error: unknown) => void;
}

/** A 500's cause for the log: a database error by its code and message only (drizzle's message holds the parameters, e.g. a conf). */
function logError(log: Pick<Logger, 'error'>, error: unknown): void {
  log.error(errorFields(error), `API request failed: ${describeError(error)}`);
}

/** 'web:<username>' of the user the authentication middleware put on the context. */
export function webActor(c: Context): string {
  // Typed loosely: the authentication sets `user` (src/auth), which this module does not depend on.
  const user = (c.var as Record<string, unknown>).user as { username?: string } | undefined;
  return `web:${user?.username ?? 'anonymous'}`;
}

const OpenApi = z
  .record(z.string(), z.unknown())
  .register(responseSchemas, { id: 'OpenAPIDocument', description: 'This document' });

/** Every route of the API, the OpenAPI document's own included. */
export function apiRouteList(): AnyRoute[] {
  let document: OpenApiDocument | undefined;
  const routes: AnyRoute[] = [
    ...dagRoutes,
    ...runRoutes,
    ...actionRoutes,
    ...backfillRoutes,
    ...taskInstanceRoutes,
    ...logRoutes,
    ...xcomRoutes,
    ...mappedTaskInstanceRoutes,
    ...importErrorRoutes,
    ...eventLogRoutes,
    ...poolRoutes,
    ...datasetRoutes,
    ...healthRoutes,
  ];
  routes.push(
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      operationId: 'get_openapi',
      summary: 'This OpenAPI 3.1 document',
      tag: 'Monitoring',
      response: OpenApi,
      handler: async () => {
        document ??= openApiDocument([...authRouteDocs, ...routes], API_VERSION);
        return document as unknown as Record<string, unknown>;
      },
    }),
  );
  return routes;
}

/** The API as a Hono app whose routes start with /api/v1; mount it with app.route('/', ...). */
export function apiRoutes(db: Db, options: ApiOptions): Hono {
  const app = new Hono().basePath(API_BASE);
  mountRoutes(app, apiRouteList(), {
    db,
    guards: { read: options.read, operate: options.operate },
    actor: options.actor ?? webActor,
    checkResponses: options.checkResponses ?? false,
    onError:
      options.onError ??
      ((error) => (options.log ? logError(options.log, error) : console.error(describeDatabaseError(error) ?? error))),
  });
  return app;
}
