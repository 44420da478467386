/** Authentication and roles of the web UI and API; see docs/auth.md. */
export { actorOf, ANONYMOUS_ACTOR } from './audit.js';
export { AuthConflictError } from './errors.js';
export {
  authenticate,
  authOptions,
  CSRF_FIELD,
  CSRF_HEADER,
  requireRead,
  requireUser,
  SESSION_COOKIE,
  type AuthOptions,
} from './middleware.js';
export { authRoutes, endSession, startSession } from './routes.js';
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
