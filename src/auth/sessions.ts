/**
 * Web UI logins. The cookie carries 32 random bytes; the table keeps their sha256
 * (`id_hash`), so neither a leaked table nor the row's own id opens a session. Each
 * session has its own CSRF token, which the UI sends back with every change.
 */
import { and, eq, gt, lte } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { sessions, users } from '../db/schema.js';
import { randomSecret, sha256Hex } from './secrets.js';
import type { AuthUser } from './types.js';

export interface NewSession {
  /** The value of the session cookie; stored nowhere but in the browser. */
  cookieValue: string;
  csrfToken: string;
  expiresAt: Date;
}

/** The cookie holds 32 random bytes in base64url. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/** Starts a session for a user, and clears away expired ones (an indexed delete). */
export async function createSession(db: Db, userId: string, ttlMs: number, now = new Date()): Promise<NewSession> {
  const cookieValue = randomSecret(32);
  const csrfToken = randomSecret(32);
  const expiresAt = new Date(now.getTime() + ttlMs);
  await db.delete(sessions).where(lte(sessions.expiresAt, now));
  await db.insert(sessions).values({ idHash: sha256Hex(cookieValue), userId, csrfToken, expiresAt });
  return { cookieValue, csrfToken, expiresAt };
}

/** The user of a live session (marked `via: 'session'`) and its CSRF token; null when unknown, expired or the user is disabled. */
export async function sessionUser(
  db: Db,
  cookieValue: string,
  now = new Date(),
): Promise<{ user: AuthUser; csrfToken: string; expiresAt: Date } | null> {
  if (!COOKIE_VALUE.test(cookieValue)) return null;
  const [row] = await db
    .select({
      id: users.id,
      username: users.username,
      role: users.role,
      csrfToken: sessions.csrfToken,
      expiresAt: sessions.expiresAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.idHash, sha256Hex(cookieValue)), gt(sessions.expiresAt, now), eq(users.disabled, false)));
  if (!row) return null;
  return {
    user: { id: row.id, username: row.username, role: row.role, via: 'session' },
    csrfToken: row.csrfToken,
    expiresAt: row.expiresAt,
  };
}

/** Ends a session (logout); false when there was none. */
export async function deleteSession(db: Db, cookieValue: string): Promise<boolean> {
  if (!COOKIE_VALUE.test(cookieValue)) return false;
  const deleted = await db
    .delete(sessions)
    .where(eq(sessions.idHash, sha256Hex(cookieValue)))
    .returning({ id: sessions.id });
  return deleted.length > 0;
}
