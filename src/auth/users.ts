/**
 * Users of the web UI and API: create, list, change, delete, and check a password. Every
 * change lands in the audit log under the actor given; passwords never do.
 */
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Tx } from '../db/execute.js';
import { sessions, users, type UserRow } from '../db/schema.js';
import { ConfigError, NotFoundError } from '../errors.js';
import { audit } from './audit.js';
import { AuthConflictError } from './errors.js';
import { DEFAULT_SCRYPT, generatePassword, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';
import { ROLES, type AuthUser, type Role } from './types.js';

/** A user as shown: never the password hash. */
export interface UserInfo {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

// schema.ts spells the roles out (drizzle-kit reads that file on its own): they must stay ROLES.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaRolesMatch: Same<Role, UserRow['role']> = true;
void schemaRolesMatch;

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

/** The stored form of a username (lower case: names are case-insensitive); ConfigError names what is wrong. */
export function normalizeUsername(username: string): string {
  const name = username.trim().toLowerCase();
  if (!USERNAME.test(name)) {
    throw new ConfigError(
      `invalid username '${username}': use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

export function parseRole(role: string, where = 'role'): Role {
  if (!(ROLES as readonly string[]).includes(role))
    throw new ConfigError(`${where} must be one of ${ROLES.join(', ')}, got '${role}'`);
  return role as Role;
}

export function checkPasswordStrength(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH)
    throw new ConfigError(`password too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
}

function info(row: UserRow): UserInfo {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    disabled: row.disabled,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function notFound(username: string): NotFoundError {
  return new NotFoundError(`no user named '${username}' (see 'updraft users list')`);
}

export async function createUser(
  db: Db,
  input: { username: string; role: Role; password: string; actor: string },
): Promise<UserInfo> {
  const username = normalizeUsername(input.username);
  const role = parseRole(input.role);
  checkPasswordStrength(input.password);
  const passwordHash = await hashPassword(input.password);
  try {
    return await db.transaction(async (tx) => {
      const [row] = await tx.insert(users).values({ username, role, passwordHash }).returning();
      await audit(tx, input.actor, 'user.create', { username, role });
      return info(row!);
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new AuthConflictError(`user '${username}' already exists`, { cause: error });
    throw error;
  }
}

export async function listUsers(db: Db): Promise<UserInfo[]> {
  return (await db.select().from(users).orderBy(asc(users.username))).map(info);
}

/** One user by name, or NotFoundError. */
export async function getUser(db: Db, username: string): Promise<UserInfo> {
  const [row] = await db
    .select()
    .from(users)
    .where(eq(users.username, normalizeUsername(username)));
  if (!row) throw notFound(username);
  return info(row);
}

/** The user row, locked for the rest of the transaction. */
async function lockUser(tx: Tx, username: string): Promise<UserRow> {
  const [row] = await tx
    .select()
    .from(users)
    .where(eq(users.username, normalizeUsername(username)))
    .for('update');
  if (!row) throw notFound(username);
  return row;
}

/**
 * Refuses a change that would leave no enabled admin: nobody could manage users from the
 * web any more. The other admins' rows are locked, so two such changes cannot both pass.
 */
async function keepAnAdmin(tx: Tx, row: UserRow, what: string): Promise<void> {
  if (row.role !== 'admin' || row.disabled) return;
  const others = await tx
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.role, 'admin'), eq(users.disabled, false), ne(users.id, row.id)))
    .for('update');
  if (others.length === 0)
    throw new AuthConflictError(
      `cannot ${what} '${row.username}': it is the last admin (make another user admin first)`,
    );
}

export async function deleteUser(db: Db, username: string, actor: string): Promise<void> {
  await db.transaction(async (tx) => {
    const row = await lockUser(tx, username);
    await keepAnAdmin(tx, row, 'delete');
    // Its tokens and sessions go with it (on delete cascade).
    await tx.delete(users).where(eq(users.id, row.id));
    await audit(tx, actor, 'user.delete', { username: row.username, role: row.role });
  });
}

/** Sets a new password and ends the user's sessions (a stolen cookie stops working). */
export async function setPassword(db: Db, username: string, password: string, actor: string): Promise<void> {
  checkPasswordStrength(password);
  const passwordHash = await hashPassword(password);
  await db.transaction(async (tx) => {
    const row = await lockUser(tx, username);
    await tx.update(users).set({ passwordHash }).where(eq(users.id, row.id));
    await tx.delete(sessions).where(eq(sessions.userId, row.id));
    await audit(tx, actor, 'user.set_password', { username: row.username });
  });
}

/** Changes a role; false when the user already had it. Sessions and tokens follow at once (they read the role live). */
export async function setRole(db: Db, username: string, role: Role, actor: string): Promise<boolean> {
  parseRole(role);
  return db.transaction(async (tx) => {
    const row = await lockUser(tx, username);
    if (row.role === role) return false;
    if (role !== 'admin') await keepAnAdmin(tx, row, 'take the admin role from');
    await tx.update(users).set({ role }).where(eq(users.id, row.id));
    await audit(tx, actor, 'user.set_role', { username: row.username, from: row.role, role });
    return true;
  });
}

/** Disables (or enables again) a user; a disabled user cannot log in, and its tokens and sessions stop working. */
export async function setDisabled(db: Db, username: string, disabled: boolean, actor: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const row = await lockUser(tx, username);
    if (row.disabled === disabled) return false;
    if (disabled) await keepAnAdmin(tx, row, 'disable');
    await tx.update(users).set({ disabled }).where(eq(users.id, row.id));
    if (disabled) await tx.delete(sessions).where(eq(sessions.userId, row.id));
    await audit(tx, actor, disabled ? 'user.disable' : 'user.enable', { username: row.username });
    return true;
  });
}

export type PasswordCheck = { user: AuthUser } | { user: null; reason: 'unknown user' | 'wrong password' | 'disabled' };

// A hash to check unknown usernames against, so that they take as long as known ones.
let decoy: Promise<string> | undefined;

/**
 * Checks a username and password; `reason` is for the audit log only: a person is told the
 * same thing whatever it is. Takes about as long for an unknown user as for a known one.
 */
export async function checkPassword(db: Db, username: string, password: string): Promise<PasswordCheck> {
  const name = username.trim().toLowerCase();
  const [row] = USERNAME.test(name) ? await db.select().from(users).where(eq(users.username, name)) : [];
  if (!row) {
    decoy ??= hashPassword(generatePassword(), DEFAULT_SCRYPT);
    await verifyPassword(password, await decoy);
    return { user: null, reason: 'unknown user' };
  }
  const matches = await verifyPassword(password, row.passwordHash);
  if (!matches) return { user: null, reason: 'wrong password' };
  if (row.disabled) return { user: null, reason: 'disabled' };
  return { user: { id: row.id, username: row.username, role: row.role, via: 'session' } };
}

/** The user whose password this is (marked `via: 'session'`), or null. */
export async function authenticatePassword(db: Db, username: string, password: string): Promise<AuthUser | null> {
  return (await checkPassword(db, username, password)).user;
}

export const INITIAL_ADMIN = 'admin';

/**
 * On a database without users, creates `admin` with a generated password and returns that
 * password (to show once); otherwise null. Safe when several processes start at once.
 */
export async function ensureAdmin(db: Db, actor: string): Promise<string | null> {
  const [any] = await db.select({ id: users.id }).from(users).limit(1);
  if (any) return null;
  const password = generatePassword();
  const passwordHash = await hashPassword(password);
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('updraft.ensure_admin'))`);
    const [again] = await tx.select({ id: users.id }).from(users).limit(1);
    if (again) return null;
    await tx.insert(users).values({ username: INITIAL_ADMIN, role: 'admin', passwordHash });
    await audit(tx, actor, 'user.create', { username: INITIAL_ADMIN, role: 'admin' });
    return password;
  });
}
