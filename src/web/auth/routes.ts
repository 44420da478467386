/**
 * Login, logout and "who am I" for the web UI (JSON). Mount after `authenticate`:
 *
 *   app.use('*', authenticate(db, options));
 *   app.route('/', authRoutes(db, options));
 */
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { describeIssues } from '../../util/validation.js';
import { problem } from '../problem.js';
import { actorOf, ANONYMOUS_ACTOR, audit } from '../../auth/audit.js';
import { LOGIN_PATH, SESSION_COOKIE, sessionCookieOptions, unauthorized, type AuthOptions } from './middleware.js';
import { createSession, deleteSession } from '../../auth/sessions.js';
import { Text } from '../../util/input.js';
import type { AuthUser } from '../../auth/types.js';
import { checkPassword } from '../../auth/users.js';

/** The JSON login's body (documented in the OpenAPI document, src/web/api/auth-doc.ts). */
export const loginBody = z.object({
  username: Text.min(1).max(200),
  password: Text.min(1).max(1024),
});

/**
 * Starts a session for `user` in the response: a fresh session (never the one the request
 * came with, against fixation), its cookie set, and the login audited. Returns the CSRF
 * token for the page. For a login page of the UI that checks the password itself.
 */
export async function startSession(
  c: Context,
  db: Db,
  user: AuthUser,
  options: AuthOptions,
): Promise<{ csrfToken: string; expiresAt: Date }> {
  const previous = getCookie(c, SESSION_COOKIE);
  if (previous !== undefined) await deleteSession(db, previous);
  const session = await createSession(db, user.id, options.sessionTtlMs, options.now?.() ?? new Date());
  setCookie(c, SESSION_COOKIE, session.cookieValue, sessionCookieOptions(c, options, options.sessionTtlMs));
  await audit(db, actorOf(user), 'auth.login', { username: user.username });
  return { csrfToken: session.csrfToken, expiresAt: session.expiresAt };
}

/** Ends the request's session, if any, and removes its cookie; audited. */
export async function endSession(c: Context, db: Db, options: AuthOptions): Promise<void> {
  const cookie = getCookie(c, SESSION_COOKIE);
  const user = c.get('user');
  if (cookie !== undefined && (await deleteSession(db, cookie)) && user?.via === 'session') {
    await audit(db, actorOf(user), 'auth.logout', { username: user.username });
  }
  deleteCookie(c, SESSION_COOKIE, sessionCookieOptions(c, options));
}

export function authRoutes(db: Db, options: AuthOptions): Hono {
  const app = new Hono();

  // JSON only: a cross-site HTML form cannot send application/json without CORS allowing it.
  app.post(LOGIN_PATH, async (c) => {
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) {
      return problem(
        c,
        400,
        'send the credentials as JSON {"username", "password"} with Content-Type: application/json',
      );
    }
    const json: unknown = await c.req.json().catch(() => undefined);
    const parsed = loginBody.safeParse(json);
    if (!parsed.success)
      return problem(c, 400, describeIssues(parsed.error), parsed.error.issues[0]?.path.join('.') || undefined);
    const { username, password } = parsed.data;
    const checked = await checkPassword(db, username, password);
    if (!checked.user) {
      // An unknown name is not recorded: it may be a password typed in the wrong field.
      const details: Record<string, string> =
        checked.reason === 'unknown user'
          ? { reason: checked.reason }
          : { username: username.trim().toLowerCase(), reason: checked.reason };
      await audit(db, ANONYMOUS_ACTOR, 'auth.login_failed', details);
      return unauthorized(c, 'wrong username or password');
    }
    const { csrfToken } = await startSession(c, db, checked.user, options);
    return c.json({ username: checked.user.username, role: checked.user.role, csrfToken });
  });

  app.post('/api/v1/auth/logout', async (c) => {
    await endSession(c, db, options);
    return c.body(null, 204);
  });

  app.get('/api/v1/auth/me', (c) => {
    const user = c.get('user');
    if (!user) return unauthorized(c, 'not logged in');
    const csrfToken = c.get('csrfToken');
    return c.json({ username: user.username, role: user.role, via: user.via, ...(csrfToken ? { csrfToken } : {}) });
  });

  return app;
}
