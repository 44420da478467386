/**
 * Hono middleware: who is asking (`authenticate`), and whether they may (`requireUser`,
 * `requireRead`). An app uses them as
 *
 *   app.use('*', authenticate(db, options));          // sets c.get('user'), checks CSRF
 *   app.route('/', authRoutes(db, options));          // login, logout, me
 *   app.get('/api/v1/dags', requireRead(options.readOpen), ...);
 *   app.post('/api/v1/dags/:id/pause', requireUser('operator'), ...);
 */
import type { Context } from 'hono';
import { deleteCookie, getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import type { CookieOptions } from 'hono/utils/cookie';
import type { Config } from '../../config.js';
import type { Db } from '../../db/client.js';
import { problem } from '../problem.js';
import { safeEqual } from '../../auth/secrets.js';
import { sessionUser } from '../../auth/sessions.js';
import { authenticateToken } from '../../auth/tokens.js';
import { hasRole, type AuthUser, type Role } from '../../auth/types.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The signed-in user, or undefined for an anonymous request (set by `authenticate`). */
    user?: AuthUser;
    /** The session's CSRF token, for pages to put in their forms (session requests only). */
    csrfToken?: string;
  }
}

export const SESSION_COOKIE = 'updraft_session';
export const CSRF_HEADER = 'X-CSRF-Token';
/** The form field that carries the CSRF token of an HTML form (urlencoded or multipart). */
export const CSRF_FIELD = '_csrf';
export const LOGIN_PATH = '/api/v1/auth/login';
/** Logins (the API's, the UI's form): they replace the session they may carry rather than act with it. */
const LOGIN_PATHS: ReadonlySet<string> = new Set([LOGIN_PATH, '/ui/login']);

export interface AuthOptions {
  /** Whether anonymous requests may read (config.authRead: UPDRAFT_AUTH_READ, by default open on loopback only); what `requireRead` is given. */
  readOpen: boolean;
  /** How long a login lasts (UPDRAFT_SESSION_TTL, default 12h). */
  sessionTtlMs: number;
  /** Mark the cookie Secure on every request, e.g. behind a proxy that does not send X-Forwarded-Proto. Default false: Secure when the request is https. */
  secureCookie?: boolean;
  /** The clock; tests pass their own. Default: the system clock. */
  now?: () => Date;
  /**
   * `standalone` on the embedded database: the token it wrote for the CLI on this machine
   * (src/cli/local-server.ts). A request bearing it, over loopback only, acts as an operator
   * named by its X-Updraft-Actor header ('cli:<os user>'), because the CLI cannot open the
   * database itself.
   */
  localToken?: string;
}

export const ACTOR_HEADER = 'X-Updraft-Actor';

/** The auth options of the environment's settings. */
export function authOptions(config: Pick<Config, 'authRead' | 'sessionTtlMs'>): AuthOptions {
  return { readOpen: config.authRead === 'open', sessionTtlMs: config.sessionTtlMs };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function isHttps(c: Context): boolean {
  return (
    new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https'
  );
}

/** HttpOnly (no script reads it), SameSite=Lax (not sent with cross-site POSTs), Secure on https. */
export function sessionCookieOptions(
  c: Context,
  options: Pick<AuthOptions, 'secureCookie'>,
  maxAgeMs?: number,
): CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'Lax',
    secure: options.secureCookie === true || isHttps(c),
    path: '/',
    ...(maxAgeMs === undefined ? {} : { maxAge: Math.floor(maxAgeMs / 1000) }),
  };
}

/** 401 with the problem body and the challenge RFC 6750 asks for. */
export function unauthorized(c: Context, detail: string, error?: 'invalid_token'): Response {
  c.header('WWW-Authenticate', error ? `Bearer realm="updraft", error="${error}"` : 'Bearer realm="updraft"');
  return problem(c, 401, detail);
}

/** The CSRF token the request sent: the header, or for an HTML form its `_csrf` field. */
async function sentCsrfToken(c: Context): Promise<string | undefined> {
  const header = c.req.header(CSRF_HEADER);
  if (header) return header;
  const type = c.req.header('content-type') ?? '';
  if (/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) {
    // Hono caches the parsed body: the route reads it again for free.
    const field = ((await c.req.parseBody().catch(() => ({}))) as Record<string, unknown>)[CSRF_FIELD];
    return typeof field === 'string' ? field : undefined;
  }
  return undefined;
}

/**
 * Sets `c.get('user')` from `Authorization: Bearer <token>` or the session cookie, and
 * undefined for an anonymous request. A Bearer header that does not authenticate is a 401
 * at once (a client with a bad token should hear so, not be served as anonymous). A
 * cookie-authenticated POST, PUT, PATCH or DELETE without the session's CSRF token is a 403;
 * token requests need none (a browser never adds the header by itself). An unknown or
 * expired cookie is removed and the request goes on as anonymous.
 */
export function authenticate(db: Db, options: AuthOptions) {
  const now = options.now ?? (() => new Date());
  return createMiddleware(async (c, next) => {
    c.set('user', undefined);
    c.set('csrfToken', undefined);
    const authorization = c.req.header('authorization');
    if (authorization !== undefined) {
      const bearer = /^Bearer +(\S+) *$/i.exec(authorization);
      if (!bearer) return unauthorized(c, "unsupported Authorization header: send 'Authorization: Bearer <API token>'");
      if (options.localToken !== undefined && safeEqual(bearer[1]!, options.localToken)) {
        if (!fromLoopback(c))
          return unauthorized(c, 'the local token is accepted from this machine only', 'invalid_token');
        c.set('user', localUser(c.req.header(ACTOR_HEADER)));
        return next();
      }
      const user = await authenticateToken(db, bearer[1]!, now());
      if (!user) return unauthorized(c, 'API token unknown, revoked or expired', 'invalid_token');
      c.set('user', user);
      return next();
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    // A login does not act with the session it may carry: it replaces it.
    if (cookie !== undefined && !(c.req.method === 'POST' && LOGIN_PATHS.has(c.req.path))) {
      const session = await sessionUser(db, cookie, now());
      if (!session) {
        deleteCookie(c, SESSION_COOKIE, sessionCookieOptions(c, options));
      } else {
        if (!SAFE_METHODS.has(c.req.method)) {
          const sent = await sentCsrfToken(c);
          if (sent === undefined || !safeEqual(sent, session.csrfToken))
            return problem(c, 403, 'CSRF token missing or wrong');
        }
        c.set('user', session.user);
        c.set('csrfToken', session.csrfToken);
      }
    }
    return next();
  });
}

/**
 * The CLI on this machine, as the audit log records it ('cli:<os user>'), with what its
 * commands need (backfills: operator) and no more.
 */
function localUser(actor: string | undefined): AuthUser {
  const name = actor && /^cli:[\w.@-]{1,64}$/.test(actor) ? actor : 'cli:unknown';
  return { id: 'local', username: name, role: 'operator', via: 'local' };
}

/** Whether the request came over loopback (the node server's socket; not behind a proxy). */
function fromLoopback(c: Context): boolean {
  const address =
    (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ??
    '';
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

/**
 * Lets the request through for a signed-in user with at least `minRole` (default viewer):
 * 401 problem (with `WWW-Authenticate: Bearer`) for an anonymous request, 403 for too low a role.
 * Put it on every route that changes something; it needs `authenticate` before it.
 */
export function requireUser(minRole: Role = 'viewer') {
  return createMiddleware(async (c, next) => {
    const user = c.get('user');
    if (!user) return unauthorized(c, 'authentication required: log in, or send Authorization: Bearer <API token>');
    if (!hasRole(user.role, minRole))
      return problem(c, 403, `this needs the ${minRole} role; '${user.username}' has the ${user.role} role`);
    return next();
  });
}

/** For read routes: open to anyone when `readOpen` (UPDRAFT_AUTH_READ=open), else as `requireUser('viewer')`. */
export function requireRead(readOpen: boolean) {
  const signedIn = requireUser('viewer');
  return createMiddleware(async (c, next) => (readOpen ? next() : signedIn(c, next)));
}
