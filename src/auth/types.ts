/**
 * Who is asking, and what they may do. Roles are ordered: an operator may do what a
 * viewer may, an admin what an operator may.
 *   viewer   read everything (when reading is closed, see UPDRAFT_AUTH_READ)
 *   operator trigger, pause, clear, mark, cancel
 *   admin    users, tokens, connections
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface AuthUser {
  id: string;
  username: string;
  role: Role;
  /**
   * How the request proved it: an API token (Bearer), a session cookie (the UI), or the
   * local token of the `standalone` on this machine's embedded database (the CLI).
   */
  via: 'token' | 'session' | 'local';
}

/** Whether `role` includes what `needed` allows. */
export function hasRole(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
