/**
 * The frame of every page: a doctype (hono/jsx emits none), the navigation, who is signed
 * in (with a logout form), the page's body, and the one small script that makes pages
 * live (static/live.js). Server-rendered; no build step.
 */
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';
import type { AuthUser } from '../../auth/types.js';
import { STYLE } from './style.js';

export interface PageContext {
  user: AuthUser | undefined;
  /** For forms: the session's CSRF token, sent as the `_csrf` field. */
  csrfToken: string | undefined;
  /** The current path, to mark the navigation. */
  path: string;
}

export interface LayoutProps {
  title: string;
  page: PageContext;
  /** The DAG's timezone on a DAG's pages: offered by the timezone selector. */
  dagTimezone?: string;
  children?: Child;
}

const NAV: [string, string][] = [
  ['/', 'DAGs'],
  ['/ui/backfills', 'Backfills'],
  ['/ui/datasets', 'Datasets'],
  ['/ui/import-errors', 'Import errors'],
  ['/ui/audit', 'Audit log'],
  ['/ui/reports', 'Reports'],
];

export function Layout({ title, page, dagTimezone, children }: LayoutProps) {
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{title} · Updraft</title>
          <style>{raw(STYLE)}</style>
          <script src="/ui/static/time.js" defer></script>
          <script src="/ui/static/live.js" defer></script>
        </head>
        <body data-dag-tz={dagTimezone}>
          <header>
            <a class="brand" href="/">
              Updraft
            </a>
            <nav>
              {NAV.map(([href, label]) => (
                <a href={href} class={page.path === href ? 'current' : undefined}>
                  {label}
                </a>
              ))}
            </nav>
            <TimezoneSelect page={page} dagTimezone={dagTimezone} />
            <span id="live-status" class="muted" title="Updates arrive without reloading while this says live"></span>
            <span class="who">
              {page.user ? (
                <form method="post" action="/ui/logout" class="inline">
                  <CsrfField page={page} />
                  {page.user.username} ({page.user.role}) <button type="submit">Log out</button>
                </form>
              ) : (
                <a href={`/ui/login?next=${encodeURIComponent(page.path)}`}>Log in</a>
              )}
            </span>
          </header>
          <main>
            <h1>{title}</h1>
            {children}
          </main>
        </body>
      </html>
    </>
  );
}

/**
 * Which timezone times are shown in (static/time.js applies it and remembers the choice
 * per user in this browser): UTC (the default, as Airflow's), the browser's, or the DAG's.
 */
function TimezoneSelect({ page, dagTimezone }: { page: PageContext; dagTimezone: string | undefined }) {
  return (
    <label class="tz" title="the timezone in which this site shows times">
      times in{' '}
      <select id="tz-select" data-user={page.user?.username ?? ''}>
        <option value="utc">UTC</option>
        <option value="local">this browser's timezone</option>
        <option value="dag">
          {dagTimezone ? `the DAG's timezone, ${dagTimezone}` : "each DAG's timezone (UTC elsewhere)"}
        </option>
      </select>
    </label>
  );
}

/** The hidden field that makes a form CSRF-safe (checked by src/web/auth/middleware.ts). */
export function CsrfField({ page }: { page: PageContext }) {
  return page.csrfToken ? <input type="hidden" name="_csrf" value={page.csrfToken} /> : null;
}

/** A task or run state as a coloured badge (colours in style.ts, as Airflow's). */
export function StateBadge({ state }: { state: string | null }) {
  const name = state ?? 'none';
  return <span class={`state s-${name}`}>{name}</span>;
}
