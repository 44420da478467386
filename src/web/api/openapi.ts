/**
 * The OpenAPI 3.1 document of the API, built from the route list that the server mounts:
 * parameters from the routes' query and path schemas, bodies and answers from the schemas
 * registered in requestSchemas and responseSchemas (z.toJSONSchema; 3.1 is JSON Schema).
 */
import { z } from 'zod';
import { Problem, requestSchemas, responseSchemas, type SchemaMeta } from './common.js';
import { securitySchemes } from './auth-doc.js';
import { accessOf, type AnyRouteDoc } from './route.js';

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  tags: { name: string }[];
  paths: Record<string, Record<string, JsonSchema>>;
  security: Record<string, string[]>[];
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

const ref = (id: string) => `#/components/schemas/${id}`;

/** A schema without the keys that make it a standalone document. */
function bare(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function components(registry: z.core.$ZodRegistry<SchemaMeta>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(registry, { uri: ref, io }) as { schemas: Record<string, JsonSchema> };
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, bare(schema)]));
}

/** A $ref to a registered schema: every body and answer is a component, so that clients get names. */
function named(schema: z.ZodType, registry: z.core.$ZodRegistry<SchemaMeta>, what: string): JsonSchema {
  const id = registry.get(schema)?.id;
  if (!id) throw new Error(`the ${what} schema is not registered; give it a name with .register(...)`);
  return { $ref: ref(id) };
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  if (!(schema instanceof z.ZodObject)) throw new Error(`${where} parameters must be a zod object`);
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => {
    const { description, ...json } = bare(z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as JsonSchema);
    return {
      name,
      in: where,
      required: where === 'path' || !field.safeParse(undefined).success,
      ...(description ? { description } : {}),
      schema: json,
      // A list parameter repeats: state=queued&state=running.
      ...(json.type === 'array' ? { style: 'form', explode: true } : {}),
    };
  });
}

const AUTHENTICATED: Record<string, string[]>[] = [{ bearerAuth: [] }, { sessionCookie: [] }];
/** Who may call an operation: anyone (public), anyone while reading is open (read; `{}` is no credentials), a user (operate). */
const SECURITY = { public: [], read: [...AUTHENTICATED, {}], operate: AUTHENTICATED };

const ERROR_TEXT: Record<number, string> = {
  400: 'An input is invalid; `field` names it',
  401: 'Not authenticated',
  403: 'Not allowed for this user',
  404: 'Something named in the path does not exist',
  409: 'The current state refuses the request',
  503: 'The database does not answer',
};

function operation(route: AnyRouteDoc): JsonSchema {
  const access = accessOf(route);
  const statuses = new Set<number>(route.errors ?? []);
  if (route.params || route.query || route.body) statuses.add(400);
  if (access !== 'public') for (const s of [401, 403]) statuses.add(s);
  const problem = { content: { 'application/problem+json': { schema: named(Problem, responseSchemas, 'Problem') } } };
  const answer: JsonSchema = {
    'application/json': { schema: named(route.response, responseSchemas, `${route.operationId} response`) },
  };
  if (route.text) answer['text/plain'] = { schema: { type: 'string' } };
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    'x-updraft-access': access,
    security: SECURITY[access],
    parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: named(route.body, requestSchemas, `${route.operationId} body`) } },
          },
        }
      : {}),
    responses: {
      ...(route.noContent
        ? { '204': { description: 'Success, no body' } }
        : { '200': { description: 'Success', content: answer } }),
      ...Object.fromEntries(
        [...statuses].sort().map((s) => [String(s), { description: ERROR_TEXT[s] ?? 'Error', ...problem }]),
      ),
    },
  };
}

export function openApiDocument(routes: readonly AnyRouteDoc[], version: string): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Updraft REST API',
      version,
      description:
        "Resources named after Airflow's stable REST API. Lists take `limit` (1 to 1000, default 100) and `offset` and answer `total_entries`; every error is a problem body (RFC 9457) whose `field` names the input at fault. `x-updraft-access` says which guard an operation passes: `read` (reading) or `operate` (changes, recorded in the audit log).",
    },
    servers: [{ url: '/api/v1' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    security: AUTHENTICATED,
    components: {
      schemas: { ...components(responseSchemas, 'output'), ...components(requestSchemas, 'input') },
      securitySchemes,
    },
  };
}
