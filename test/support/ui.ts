/**
 * The web UI as a signed-in browser uses it, through `app.request`: session cookies for
 * a viewer and an operator, and GETs and form POSTs carrying the session's CSRF field.
 */
import type { Hono } from 'hono';
import { createSession, createUser, type Role } from '../../src/auth/index.js';
import type { Db } from '../../src/db/client.js';

export interface Session {
  cookie: string;
  csrf: string;
}

export interface Page {
  status: number;
  html: string;
  res: Response;
}

/** A viewer and an operator named `<prefix>_viewer` and `<prefix>_operator`, each with a live session. */
export async function uiSessions(db: Db, prefix: string): Promise<Partial<Record<Role, Session>>> {
  const sessions: Partial<Record<Role, Session>> = {};
  for (const role of ['viewer', 'operator'] as const) {
    const user = await createUser(db, {
      username: `${prefix}_${role}`,
      role,
      password: 'correct horse battery staple',
      actor: 'test',
    });
    const session = await createSession(db, user.id, 3_600_000);
    sessions[role] = { cookie: session.cookieValue, csrf: session.csrfToken };
  }
  return sessions;
}

/** GET a page and POST a form as `who` (anonymous when undefined); `app` is read at each request. */
export function uiClient(app: () => Hono) {
  return {
    async get(path: string, who?: Session): Promise<Page> {
      const res = await app().request(path, { headers: who ? { cookie: `updraft_session=${who.cookie}` } : {} });
      return { status: res.status, html: await res.text(), res };
    },
    async post(
      path: string,
      who: Session | undefined,
      fields: Record<string, string> = {},
      csrf = true,
    ): Promise<Page> {
      const body = new URLSearchParams({ ...fields, ...(who && csrf ? { _csrf: who.csrf } : {}) });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (who) headers.cookie = `updraft_session=${who.cookie}`;
      const res = await app().request(path, { method: 'POST', body, headers });
      return { status: res.status, html: await res.text(), res };
    },
  };
}
