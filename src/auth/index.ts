/**
 * Users, passwords, API tokens, sessions, roles and the audit log; see docs/auth.md. The
 * HTTP side (middleware, login routes) is in src/web/auth/.
 */
export { actorOf, ANONYMOUS_ACTOR } from './audit.js';
export { AuthConflictError } from './errors.js';
export { createSession, deleteSession, sessionUser } from './sessions.js';
export {
  authenticateToken,
  createToken,
  listTokens,
  revokeToken,
  type CreatedToken,
  type TokenInfo,
} from './tokens.js';
export { hasRole, ROLES, type AuthUser, type Role } from './types.js';
export {
  authenticatePassword,
  checkPassword,
  createUser,
  deleteUser,
  ensureAdmin,
  getUser,
  listUsers,
  setDisabled,
  setPassword,
  setRole,
  type UserInfo,
} from './users.js';
