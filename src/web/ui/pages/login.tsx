/**
 * Logging in and out of the web UI with an HTML form. The login POST carries no CSRF token
 * when there is no session yet: the middleware checks CSRF only for cookie-authenticated
 * requests, and a stale cookie is dropped there (the request goes on as anonymous). With a
 * live session the form carries the session's token, so logging in again works too.
 */
import { Hono, type Context } from 'hono';
import { ANONYMOUS_ACTOR, audit } from '../../../auth/audit.js';
import { checkPassword } from '../../../auth/index.js';
import { authOptions } from '../../auth/middleware.js';
import { endSession, startSession } from '../../auth/routes.js';
import type { Engine } from '../../../engine/engine.js';
import { CsrfField, Layout } from '../layout.js';
import { pageOf } from './kit.js';

/** Where to go after a login or an action: a path of this site ('/...', not '//...' nor '/\...'), else `fallback`. */
export function safeNext(next: unknown, fallback = '/'): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) && !/[\r\n]/.test(next) ? next : fallback;
}

function LoginPage({ c, next, username, error }: { c: Context; next: string; username?: string; error?: string }) {
  const page = pageOf(c);
  return (
    <Layout title="Log in" page={page}>
      {page.user ? (
        <p class="notice">
          You are logged in as {page.user.username} ({page.user.role}); logging in again replaces that session.
        </p>
      ) : null}
      {error ? <p class="banner">{error}</p> : null}
      <form method="post" action="/ui/login" class="login">
        <CsrfField page={page} />
        <input type="hidden" name="next" value={next} />
        <label>
          Username
          <input name="username" autocomplete="username" required autofocus value={username ?? ''} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit">Log in</button>
      </form>
    </Layout>
  );
}

export function loginPages(engine: Engine): Hono {
  const db = engine.database.db;
  const options = authOptions(engine.config);
  const app = new Hono();

  app.get('/ui/login', (c) => c.html(<LoginPage c={c} next={safeNext(c.req.query('next'))} />));

  app.post('/ui/login', async (c) => {
    const body = await c.req.parseBody();
    const next = safeNext(body.next);
    const username = typeof body.username === 'string' ? body.username.trim() : '';
    const password = typeof body.password === 'string' ? body.password : '';
    if (!username || !password || username.length > 200 || password.length > 1024) {
      return c.html(<LoginPage c={c} next={next} username={username} error="Enter your username and password." />, 400);
    }
    const checked = await checkPassword(db, username, password);
    if (!checked.user) {
      // As the JSON login: an unknown name is not recorded (it may be a password typed in the wrong field).
      const details: Record<string, string> =
        checked.reason === 'unknown user'
          ? { reason: checked.reason }
          : { username: username.toLowerCase(), reason: checked.reason };
      await audit(db, ANONYMOUS_ACTOR, 'auth.login_failed', details);
      return c.html(<LoginPage c={c} next={next} username={username} error="wrong username or password" />, 401);
    }
    await startSession(c, db, checked.user, options);
    return c.redirect(next, 303);
  });

  app.post('/ui/logout', async (c) => {
    await endSession(c, db, options);
    return c.redirect('/', 303);
  });

  return app;
}
