/**
 * Each API route is declared once, as data: its method and path, the zod schemas of its
 * path parameters, query string, body and response, and its handler. `mountRoutes` serves
 * the list (validating every input with those schemas) and openapi.ts documents the same
 * list, so the document cannot drift from what the server accepts.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { refusedValueMessage } from '../../db/errors.js';
import { ConfigError, InputError, NotFoundError, UpdraftError } from '../../errors.js';
import { problem } from '../problem.js';
import { ApiError } from './common.js';

export type Method = 'get' | 'post' | 'patch';
/** Which guard runs first: none, `read` (every GET by default) or `operate` (every mutation by default). */
export type Access = 'public' | 'read' | 'operate';

const Empty = z.strictObject({});
type Empty = typeof Empty;

export interface RouteInput<P, Q, B> {
  c: Context;
  db: Db;
  params: P;
  query: Q;
  body: B;
  /** Who made the request, for the audit log ('web:<username>'). */
  actor(): string;
}

/** What the OpenAPI document says of an operation: a Route without its handler. */
export interface RouteDoc<
  P extends z.ZodType = Empty,
  Q extends z.ZodType = Empty,
  B extends z.ZodType = Empty,
  R extends z.ZodType = z.ZodType,
> {
  method: Method;
  /** OpenAPI style, under /api/v1: '/dags/{dag_id}'. */
  path: string;
  operationId: string;
  summary: string;
  /** The resource, as the document groups operations. */
  tag: string;
  description?: string;
  /** Default: 'read' for GET, 'operate' otherwise. */
  access?: Access;
  /** A strict object of the path's parameters (all strings in the URL). */
  params?: P;
  /** A strict object of the query parameters; a repeated parameter arrives as an array. */
  query?: Q;
  /** The JSON body; registered in requestSchemas. */
  body?: B;
  /** The 200 body; registered in responseSchemas. */
  response: R;
  /** Problem statuses this route answers besides 400 (bad input) and those of its guard. */
  errors?: readonly number[];
  /** Also answers text/plain, when the request's Accept header prefers it. */
  text?: boolean;
  /** The answer of a success when it is not 200 with `response` (204 for a logout). */
  noContent?: boolean;
}

export interface Route<
  P extends z.ZodType = Empty,
  Q extends z.ZodType = Empty,
  B extends z.ZodType = Empty,
  R extends z.ZodType = z.ZodType,
> extends RouteDoc<P, Q, B, R> {
  handler(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<z.input<R> | Response>;
}

// `any` erases each route's own schema types, so that different routes fit in one list.
// biome-ignore lint/suspicious/noExplicitAny: as said above; each handler is typed by defineRoute
export type AnyRoute = Route<any, any, any, any>;

/** Types a route's handler from its schemas. */
export function defineRoute<
  P extends z.ZodType = Empty,
  Q extends z.ZodType = Empty,
  B extends z.ZodType = Empty,
  R extends z.ZodType = z.ZodType,
>(route: Route<P, Q, B, R>): Route<P, Q, B, R> {
  return route;
}

// biome-ignore lint/suspicious/noExplicitAny: route documents of every shape in one list, as AnyRoute
export type AnyRouteDoc = RouteDoc<any, any, any, any>;

export function accessOf(route: AnyRouteDoc): Access {
  return route.access ?? (route.method === 'get' ? 'read' : 'operate');
}

/** '/dags/{dag_id}' as Hono writes it: '/dags/:dag_id'. */
export function honoPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

export interface MountOptions {
  db: Db;
  guards: { read: MiddlewareHandler; operate: MiddlewareHandler };
  actor(c: Context): string;
  /** Check every 200 body against the route's response schema (tests); a mismatch is a 500. */
  checkResponses: boolean;
  /** Told of every error that became a 500. */
  onError(error: unknown): void;
}

export function mountRoutes(app: Hono, routes: readonly AnyRoute[], options: MountOptions): void {
  for (const route of routes) {
    const access = accessOf(route);
    const handle: MiddlewareHandler = (c) => answer(c, route, options);
    const handlers: [MiddlewareHandler, ...MiddlewareHandler[]] =
      access === 'public' ? [handle] : [options.guards[access], handle];
    app.on(route.method.toUpperCase(), honoPath(route.path), ...handlers);
  }
}

async function answer(c: Context, route: AnyRoute, options: MountOptions): Promise<Response> {
  try {
    const params = validate(route.params ?? Empty, c.req.param(), 'path');
    const query = validate(route.query ?? Empty, queryOf(c), 'query');
    const body = route.body ? validate(route.body, await jsonBody(c), 'body') : {};
    const result = await route.handler({ c, db: options.db, params, query, body, actor: () => options.actor(c) });
    if (result instanceof Response) return result;
    if (options.checkResponses) {
      const checked = route.response.safeParse(result);
      if (!checked.success)
        throw new Error(
          `the answer of ${route.operationId} does not match its schema: ${z.prettifyError(checked.error)}`,
        );
    }
    return c.json(result as object, 200);
  } catch (error) {
    if (error instanceof ApiError) return problem(c, error.status, error.message, error.field);
    if (error instanceof NotFoundError) return problem(c, 404, error.message);
    if (error instanceof InputError) return problem(c, 400, error.message, error.field);
    if (error instanceof ConfigError) return problem(c, 400, error.message);
    // What remains of Updraft's own errors is a request the current state refuses (a second run for a date).
    if (error instanceof UpdraftError) return problem(c, 409, error.message);
    // The schemas keep out what PostgreSQL refuses; should a value still get through, it is the request's fault.
    const refused = refusedValueMessage(error);
    if (refused) return problem(c, 400, refused);
    options.onError(error);
    return problem(c, 500, 'internal error; the server log has the details');
  }
}

/** The query string, a repeated parameter as an array. */
function queryOf(c: Context): Record<string, string | string[]> {
  return Object.fromEntries(
    Object.entries(c.req.queries()).map(([key, values]) => [key, values.length === 1 ? values[0]! : values]),
  );
}

/** The JSON body; an empty one is `{}` (a trigger without conf). */
async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

type Where = 'path' | 'query' | 'body';

/** The input parsed by its schema; else a 400 naming the first field at fault. */
function validate<S extends z.ZodType>(schema: S, input: unknown, where: Where): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const unknownKey = issue.code === 'unrecognized_keys';
  const field = fieldOf(unknownKey ? [...issue.path, issue.keys[0]!] : issue.path, where);
  const what = where === 'body' ? 'request body' : where === 'query' ? 'query parameter' : 'path parameter';
  if (unknownKey) {
    const allowed = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
    throw new ApiError(
      400,
      `${field}: unknown ${what}${allowed.length > 0 ? ` (expected ${allowed.join(', ')})` : ''}`,
      field,
    );
  }
  throw new ApiError(400, field ? `${field}: ${issue.message}` : `${what}: ${issue.message}`, field);
}

/**
 * `conf.region`, `tags[1]` for a body; only the parameter's name for the query string and
 * the path, where the index of a repeated value would not help.
 */
function fieldOf(path: readonly PropertyKey[], where: Where): string | undefined {
  if (where !== 'body') return path.find((s): s is string => typeof s === 'string');
  let field = '';
  for (const segment of path)
    field += typeof segment === 'number' ? `[${segment}]` : `${field ? '.' : ''}${String(segment)}`;
  return field || undefined;
}
