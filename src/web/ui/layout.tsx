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

export function Layout({ title, page, children }: LayoutProps) {
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{title} · Updraft</title>
          <style>{raw(STYLE)}</style>
          <script src="/ui/static/live.js" defer></script>
        </head>
        <body>
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

/** The hidden field that makes a form CSRF-safe (checked by src/auth/middleware.ts). */
export function CsrfField({ page }: { page: PageContext }) {
  return page.csrfToken ? <input type="hidden" name="_csrf" value={page.csrfToken} /> : null;
}

/** A task or run state as a coloured badge (colours in style.ts, as Airflow's). */
export function StateBadge({ state }: { state: string | null }) {
  const name = state ?? 'none';
  return <span class={`state s-${name}`}>{name}</span>;
}
