/**
 * The login, logout and current-user operations (served by src/web/auth/routes.ts, before the
 * API's own routes) and the two ways to authenticate, as the OpenAPI document states them.
 */
import { z } from 'zod';
import { loginBody } from '../auth/routes.js';
import { CSRF_HEADER, LOGIN_PATH, SESSION_COOKIE } from '../auth/middleware.js';
import { ROLES } from '../../auth/types.js';
import { requestSchemas, responseSchemas } from './common.js';
import type { AnyRouteDoc } from './route.js';

const Login = loginBody.register(requestSchemas, {
  id: 'Login',
  description: 'A user and password (`updraft users create`)',
});

const LoginAnswer = z
  .object({
    username: z.string(),
    role: z.enum(ROLES),
    csrfToken: z
      .string()
      .describe(`Send it as the ${CSRF_HEADER} header with every change made with the session cookie`),
  })
  .register(responseSchemas, { id: 'LoginAnswer' });

const CurrentUser = z
  .object({
    username: z.string(),
    role: z.enum(ROLES),
    via: z.enum(['token', 'session', 'local']).describe('How the request authenticated'),
    csrfToken: z.string().optional().describe('With a session cookie only'),
  })
  .register(responseSchemas, { id: 'CurrentUser' });

const NoContent = z.null().register(responseSchemas, { id: 'NoContent', description: 'No body (204)' });

const base = (path: string) => path.replace(/^\/api\/v1/, '');

export const authRouteDocs: AnyRouteDoc[] = [
  {
    method: 'post',
    path: base(LOGIN_PATH),
    operationId: 'login',
    summary: 'Log in: starts a session',
    description: `Sets the ${SESSION_COOKIE} cookie (HttpOnly, SameSite=Lax) and answers the session's CSRF token. A wrong user or password is a 401, recorded in the audit log.`,
    tag: 'Auth',
    access: 'public',
    body: Login,
    response: LoginAnswer,
    errors: [401],
  },
  {
    method: 'post',
    path: '/auth/logout',
    operationId: 'logout',
    summary: 'Log out: ends the session of the cookie',
    tag: 'Auth',
    access: 'public',
    response: NoContent,
    noContent: true,
  },
  {
    method: 'get',
    path: '/auth/me',
    operationId: 'get_current_user',
    summary: 'Who the request authenticates as',
    tag: 'Auth',
    access: 'public',
    response: CurrentUser,
    errors: [401],
  },
];

/** The `components.securitySchemes` of the document. */
export const securitySchemes = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token (`updraft tokens create`): Authorization: Bearer <token>',
  },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: `The session of a login (POST /auth/login); changes made with it also send the ${CSRF_HEADER} header`,
  },
};
