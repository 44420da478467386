/**
 * What the run, task instance and misc pages share: the page context of a request, the
 * guards (reading when UPDRAFT_AUTH_READ is closed, operating), the 404/403/500 pages,
 * and how times and durations read.
 */
import { STATUS_CODES } from 'node:http';
import type { Context, ErrorHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { hasRole, type Role } from '../../../auth/index.js';
import type { Engine } from '../../../engine/engine.js';
import { refusedValueMessage } from '../../../db/errors.js';
import { ConfigError, InputError, NotFoundError, UpdraftError } from '../../../errors.js';
import { dateInputRule } from '../../../schedule/index.js';
import { Layout, type PageContext } from '../layout.js';

/** Whether the page's user may use the operator's actions (the forms are shown to them only). */
export function canOperate(page: PageContext): boolean {
  return page.user !== undefined && hasRole(page.user.role, 'operator');
}

export function pageOf(c: Context): PageContext {
  return { user: c.get('user'), csrfToken: c.get('csrfToken'), path: c.req.path };
}

/** The login page, coming back to `next` afterwards. */
export function loginRedirect(c: Context, next: string): Response {
  return c.redirect(`/ui/login?next=${encodeURIComponent(next)}`, 303);
}

/** The page a request's URL shows (path and query), for coming back after a login. */
function here(c: Context): string {
  const url = new URL(c.req.url);
  return url.pathname + url.search;
}

/** For GET pages: anyone while reading is open (UPDRAFT_AUTH_READ=open), else a signed-in user; a browser is sent to log in. */
export function readGate(engine: Engine) {
  return createMiddleware(async (c, next) => {
    if (engine.config.authRead === 'closed' && !c.get('user')) return loginRedirect(c, here(c));
    return next();
  });
}

/**
 * For actions (POST): a signed-in user with `minRole` (default operator). Without a session
 * the browser is sent to log in and come back to `pageOf(path)`, the page the form was on;
 * too low a role gets a 403 page.
 */
export function operateGate(pageOfAction: (path: string) => string, minRole: Role = 'operator') {
  return createMiddleware(async (c, next) => {
    const user = c.get('user');
    if (!user) return loginRedirect(c, pageOfAction(c.req.path));
    if (!hasRole(user.role, minRole)) {
      return c.html(
        <ErrorPage c={c} title="Not allowed">
          This needs the {minRole} role; '{user.username}' has the {user.role} role.
        </ErrorPage>,
        403,
      );
    }
    return next();
  });
}

export function ErrorPage({ c, title, children }: { c: Context; title: string; children?: Child }) {
  return (
    <Layout title={title} page={pageOf(c)}>
      <p class="banner">{children}</p>
      <p>
        <a href="/">Back to the DAGs</a>
      </p>
    </Layout>
  );
}

const ERROR_TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Login required',
  403: 'Not allowed',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Request too large',
  500: 'Something went wrong',
  503: 'Unavailable',
};

/** A styled error page with `status`, saying `detail`; a status without a title of its own is titled as HTTP names it. */
export function errorPage(c: Context, status: ContentfulStatusCode, detail: string): Response | Promise<Response> {
  return c.html(
    <ErrorPage c={c} title={ERROR_TITLES[status] ?? STATUS_CODES[status] ?? 'Error'}>
      {detail}
    </ErrorPage>,
    status,
  );
}

/**
 * The pages' onError: a NotFoundError is a 404 page naming what is missing, a refused
 * input (InputError, or a value PostgreSQL refused) a 400 page; anything else a 500 page (logged).
 */
export function pageErrors(engine: Engine): ErrorHandler {
  return (error, c) => {
    if (error instanceof NotFoundError) return errorPage(c, 404, error.message);
    if (error instanceof InputError) return errorPage(c, 400, error.message);
    const refused = refusedValueMessage(error);
    if (refused) return errorPage(c, 400, refused);
    engine.log.error({ err: error, path: c.req.path }, 'web page failed');
    return c.html(
      <ErrorPage c={c} title="Something went wrong">
        The page could not be shown; the server's log has the details.
      </ErrorPage>,
      500,
    );
  };
}

/**
 * A form's action that the service refused, shown again on its page: bad input (it names
 * the field or param) as a 400, a conflict (a second run for a date, a second backfill) as
 * a 409. An unknown DAG is the page's 404; anything else is not the form's to show.
 */
export function refusedForm(
  error: unknown,
  fail: (message: string, status: 400 | 409) => Response | Promise<Response>,
): Response | Promise<Response> {
  if (error instanceof NotFoundError) throw error;
  if (error instanceof ConfigError) return fail(error.message, 400);
  if (error instanceof UpdraftError) return fail(error.message, 409);
  throw error;
}

/** '2030-01-01 05:00:00Z' ('…05:00:00.123Z' when precise); '–' for none. */
export function fmtTime(at: Date | null | undefined, precise = false): string {
  return at
    ? at
        .toISOString()
        .replace('T', ' ')
        .replace(/\.(\d+)Z$/, precise ? '.$1Z' : 'Z')
    : '–';
}

/**
 * A time as the user reads it: rendered in UTC, then shown by static/time.js in the
 * timezone chosen in the header (the offset stays visible). `precise` adds milliseconds.
 */
export function Time({ at, precise = false }: { at: Date | null | undefined; precise?: boolean }) {
  return at ? (
    <time datetime={at.toISOString()} data-precise={precise ? '' : undefined}>
      {fmtTime(at, precise)}
    </time>
  ) : (
    <span class="muted">–</span>
  );
}

/**
 * How a typed date is read, said the same way on every form: without an offset in the
 * DAG's timezone where there is a DAG, else UTC (parseDateInZone in src/schedule/dates.ts).
 */
export function DateRule({ timezone }: { timezone?: string }) {
  return <span class="date-rule">{dateInputRule(timezone)}</span>;
}

/** From start to end, or to now while it runs. */
export function span(start: Date | null, end: Date | null, now: Date): number | null {
  if (!start) return null;
  return (end ?? now).getTime() - start.getTime();
}

/** Compact JSON for tables; pretty JSON for <pre>. */
export const compactJson = (value: unknown): string => JSON.stringify(value) ?? 'null';
export const prettyJson = (value: unknown): string => JSON.stringify(value, null, 2) ?? 'null';

export const enc = encodeURIComponent;
