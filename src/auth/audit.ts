import type { Db } from '../db/client.js';
import type { Tx } from '../db/execute.js';
import { auditLog } from '../db/schema.js';
import type { AuthUser } from './types.js';

/** How a signed-in person is recorded in the audit log: 'user:alice' (the CLI's is 'cli:<os user>'). */
export function actorOf(user: Pick<AuthUser, 'username' | 'via'>): string {
  // The CLI through standalone's local token is recorded as it is without one.
  return user.via === 'local' ? user.username : `user:${user.username}`;
}

/** What a failed login is recorded as: nobody is signed in yet. */
export const ANONYMOUS_ACTOR = 'anonymous';

/**
 * One audit row. `details` names users, roles, token ids and names; never a password, a
 * token or a cookie: callers pass only those fields.
 */
export async function audit(
  db: Db | Tx,
  actor: string,
  action: string,
  details: Record<string, string | boolean | null>,
): Promise<void> {
  await db.insert(auditLog).values({ actor, action, details });
}
