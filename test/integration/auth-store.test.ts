/**
 * Users, API tokens and sessions as stored: hashed passwords that verify, tokens and
 * sessions that stop working when revoked, expired or their user disabled, and an audit
 * row for every change that never holds a password or a token.
 */
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuthConflictError } from '../../src/auth/errors.js';
import { createSession, deleteSession, sessionUser } from '../../src/auth/sessions.js';
import { authenticateToken, createToken, listTokens, revokeToken } from '../../src/auth/tokens.js';
import {
  authenticatePassword,
  checkPassword,
  createUser,
  deleteUser,
  ensureAdmin,
  listUsers,
  setDisabled,
  setPassword,
  setRole,
} from '../../src/auth/users.js';
import type { Database } from '../../src/db/client.js';
import { apiTokens, auditLog, sessions, users } from '../../src/db/schema.js';
import { ConfigError, NotFoundError } from '../../src/errors.js';
import { testDatabase } from '../support/db.js';

const ACTOR = 'cli:tester';
const SECRET = 'Sup3r-secret-pass';
let database: Database;

beforeAll(async () => {
  database = await testDatabase();
});

async function auditText(): Promise<string> {
  return JSON.stringify(await database.db.select().from(auditLog));
}

describe('ensureAdmin', () => {
  it('creates admin with a generated password on an empty database, and nothing afterwards', async () => {
    const [password, second] = await Promise.all([ensureAdmin(database.db, ACTOR), ensureAdmin(database.db, ACTOR)]);
    // Two processes starting at once: one of them creates the admin.
    const created = [password, second].filter((p) => p !== null);
    expect(created).toHaveLength(1);
    expect(created[0]!.length).toBeGreaterThanOrEqual(16);
    expect(await authenticatePassword(database.db, 'admin', created[0]!)).toMatchObject({
      username: 'admin',
      role: 'admin',
      via: 'session',
    });
    expect(await ensureAdmin(database.db, ACTOR)).toBeNull();
    expect(await auditText()).not.toContain(created[0]!);
  });
});

describe('users', () => {
  it('stores a scrypt hash, never the password, and the name in lower case', async () => {
    const user = await createUser(database.db, { username: 'Alice', role: 'operator', password: SECRET, actor: ACTOR });
    expect(user).toMatchObject({ username: 'alice', role: 'operator', disabled: false });
    const [row] = await database.db.select().from(users).where(eq(users.username, 'alice'));
    expect(row!.passwordHash).toMatch(/^scrypt\$/);
    expect(row!.passwordHash).not.toContain(SECRET);
    expect(await authenticatePassword(database.db, 'ALICE', SECRET)).toEqual({
      id: user.id,
      username: 'alice',
      role: 'operator',
      via: 'session',
    });
    const listed = await listUsers(database.db);
    expect(listed.map((u) => u.username)).toEqual(['admin', 'alice']);
    expect(JSON.stringify(listed)).not.toContain('scrypt');
  });

  it('refuses a wrong password, an unknown user and a taken name alike', async () => {
    expect(await checkPassword(database.db, 'alice', 'wrong-password')).toEqual({
      user: null,
      reason: 'wrong password',
    });
    expect(await checkPassword(database.db, 'nobody', SECRET)).toEqual({ user: null, reason: 'unknown user' });
    expect(await checkPassword(database.db, 'not a valid name!', SECRET)).toEqual({
      user: null,
      reason: 'unknown user',
    });
    await expect(
      createUser(database.db, { username: 'ALICE', role: 'viewer', password: SECRET, actor: ACTOR }),
    ).rejects.toThrow(new AuthConflictError("user 'alice' already exists"));
  });

  it('validates names, roles and passwords, naming what is wrong', async () => {
    await expect(
      createUser(database.db, { username: 'bad name', role: 'viewer', password: SECRET, actor: ACTOR }),
    ).rejects.toThrow("invalid username 'bad name'");
    await expect(
      createUser(database.db, { username: 'bob', role: 'root' as never, password: SECRET, actor: ACTOR }),
    ).rejects.toThrow("role must be one of viewer, operator, admin, got 'root'");
    await expect(
      createUser(database.db, { username: 'bob', role: 'viewer', password: 'short', actor: ACTOR }),
    ).rejects.toThrow(ConfigError);
    await expect(setRole(database.db, 'ghost', 'viewer', ACTOR)).rejects.toThrow(
      new NotFoundError("no user named 'ghost' (see 'updraft users list')"),
    );
  });

  it('a disabled user cannot log in, even with the right password, until enabled again', async () => {
    await createUser(database.db, { username: 'carol', role: 'viewer', password: SECRET, actor: ACTOR });
    expect(await setDisabled(database.db, 'carol', true, ACTOR)).toBe(true);
    expect(await checkPassword(database.db, 'carol', SECRET)).toEqual({ user: null, reason: 'disabled' });
    expect(await checkPassword(database.db, 'carol', 'wrong-password')).toEqual({
      user: null,
      reason: 'wrong password',
    });
    expect(await setDisabled(database.db, 'carol', false, ACTOR)).toBe(true);
    expect(await authenticatePassword(database.db, 'carol', SECRET)).toMatchObject({ username: 'carol' });
  });

  it('changes a password (old one refused, sessions ended) and a role', async () => {
    const alice = (await authenticatePassword(database.db, 'alice', SECRET))!;
    const session = await createSession(database.db, alice.id, 3_600_000);
    await setPassword(database.db, 'alice', 'An0ther-password', ACTOR);
    expect(await authenticatePassword(database.db, 'alice', SECRET)).toBeNull();
    expect(await authenticatePassword(database.db, 'alice', 'An0ther-password')).toMatchObject({ username: 'alice' });
    expect(await sessionUser(database.db, session.cookieValue)).toBeNull();
    expect(await setRole(database.db, 'alice', 'admin', ACTOR)).toBe(true);
    expect(await setRole(database.db, 'alice', 'admin', ACTOR)).toBe(false);
    expect(await authenticatePassword(database.db, 'alice', 'An0ther-password')).toMatchObject({ role: 'admin' });
  });

  it('keeps at least one enabled admin', async () => {
    await createUser(database.db, { username: 'solo_admin_check', role: 'viewer', password: SECRET, actor: ACTOR });
    // admin and alice are admins: one may go, the last may not.
    expect(await setRole(database.db, 'alice', 'operator', ACTOR)).toBe(true);
    await expect(setRole(database.db, 'admin', 'viewer', ACTOR)).rejects.toThrow(
      "cannot take the admin role from 'admin': it is the last admin",
    );
    await expect(setDisabled(database.db, 'admin', true, ACTOR)).rejects.toThrow(
      "cannot disable 'admin': it is the last admin",
    );
    await expect(deleteUser(database.db, 'admin', ACTOR)).rejects.toThrow(
      "cannot delete 'admin': it is the last admin",
    );
    await deleteUser(database.db, 'solo_admin_check', ACTOR);
  });

  it('records every change in the audit log, without a password', async () => {
    const rows = await database.db.select().from(auditLog).where(eq(auditLog.actor, ACTOR));
    expect(rows.map((r) => r.action)).toEqual(
      expect.arrayContaining([
        'user.create',
        'user.disable',
        'user.enable',
        'user.set_password',
        'user.set_role',
        'user.delete',
      ]),
    );
    expect(rows.find((r) => r.action === 'user.set_role')!.details).toEqual({
      username: 'alice',
      from: 'operator',
      role: 'admin',
    });
    const text = await auditText();
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('An0ther-password');
    expect(text).not.toContain('scrypt');
  });
});

describe('API tokens', () => {
  it('are shown once as updr_..., stored as a sha256, and authenticate as their user', async () => {
    const created = await createToken(database.db, { username: 'alice', name: 'ci', actor: ACTOR });
    expect(created.token).toMatch(/^updr_[A-Za-z0-9_-]{43}$/);
    const [row] = await database.db.select().from(apiTokens).where(eq(apiTokens.id, created.id));
    expect(row!.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.tokenHash).not.toContain(created.token.slice(5));
    expect(await authenticateToken(database.db, created.token)).toMatchObject({
      username: 'alice',
      role: 'operator',
      via: 'token',
    });
    expect(await authenticateToken(database.db, `${created.token.slice(0, -1)}x`)).toBeNull();
    expect(await authenticateToken(database.db, 'not-a-token')).toBeNull();
    const listed = await listTokens(database.db, { username: 'alice' });
    expect(listed).toEqual([
      expect.objectContaining({ id: created.id, username: 'alice', name: 'ci', revokedAt: null }),
    ]);
    expect(JSON.stringify(listed)).not.toMatch(/updr_|[0-9a-f]{64}/);
    expect(await auditText()).not.toContain(created.token);
  });

  it('note their last use at most once a minute', async () => {
    const { token, id } = await createToken(database.db, { username: 'alice', name: 'busy', actor: ACTOR });
    const lastUsed = async () =>
      (await database.db.select().from(apiTokens).where(eq(apiTokens.id, id)))[0]!.lastUsedAt;
    const t0 = new Date('2030-01-01T00:00:00Z');
    await authenticateToken(database.db, token, t0);
    expect(await lastUsed()).toEqual(t0);
    await authenticateToken(database.db, token, new Date(t0.getTime() + 30_000));
    expect(await lastUsed()).toEqual(t0);
    const later = new Date(t0.getTime() + 61_000);
    await authenticateToken(database.db, token, later);
    expect(await lastUsed()).toEqual(later);
  });

  it('stop working when they expire', async () => {
    const now = new Date();
    const { token } = await createToken(
      database.db,
      { username: 'alice', name: 'short', expiresInMs: 60_000, actor: ACTOR },
      now,
    );
    expect(await authenticateToken(database.db, token, new Date(now.getTime() + 59_000))).not.toBeNull();
    expect(await authenticateToken(database.db, token, new Date(now.getTime() + 60_000))).toBeNull();
  });

  it('stop working when revoked (once) or their user is disabled', async () => {
    const { token, id } = await createToken(database.db, { username: 'carol', actor: ACTOR });
    expect(await authenticateToken(database.db, token)).toMatchObject({ username: 'carol', role: 'viewer' });
    await setDisabled(database.db, 'carol', true, ACTOR);
    expect(await authenticateToken(database.db, token)).toBeNull();
    await setDisabled(database.db, 'carol', false, ACTOR);
    expect(await authenticateToken(database.db, token)).not.toBeNull();
    expect(await revokeToken(database.db, id, ACTOR)).toMatchObject({ id, username: 'carol', name: 'default' });
    expect(await authenticateToken(database.db, token)).toBeNull();
    await expect(revokeToken(database.db, id, ACTOR)).rejects.toThrow(AuthConflictError);
    await expect(revokeToken(database.db, 'nope', ACTOR)).rejects.toThrow("no API token with id 'nope'");
    const [audit] = await database.db.select().from(auditLog).where(eq(auditLog.action, 'token.revoke'));
    expect(audit!.details).toEqual({ username: 'carol', tokenId: id, name: 'default' });
  });

  it('go with their user', async () => {
    await createUser(database.db, { username: 'dave', role: 'viewer', password: SECRET, actor: ACTOR });
    const { token } = await createToken(database.db, { username: 'dave', actor: ACTOR });
    await deleteUser(database.db, 'dave', ACTOR);
    expect(await authenticateToken(database.db, token)).toBeNull();
    expect(await listTokens(database.db, { username: 'alice' })).toHaveLength(3);
    await expect(createToken(database.db, { username: 'dave', actor: ACTOR })).rejects.toThrow(NotFoundError);
  });
});

describe('sessions', () => {
  it('keep only the hash of the cookie, and end at their expiry or at logout', async () => {
    const alice = (await authenticatePassword(database.db, 'alice', 'An0ther-password'))!;
    const now = new Date();
    const session = await createSession(database.db, alice.id, 3_600_000, now);
    expect(session.cookieValue).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.expiresAt).toEqual(new Date(now.getTime() + 3_600_000));
    const rows = await database.db.select().from(sessions).where(eq(sessions.userId, alice.id));
    expect(JSON.stringify(rows)).not.toContain(session.cookieValue);
    expect(rows.map((r) => r.id)).not.toContain(session.cookieValue);

    expect(await sessionUser(database.db, session.cookieValue, now)).toEqual({
      user: { id: alice.id, username: 'alice', role: 'operator', via: 'session' },
      csrfToken: session.csrfToken,
      expiresAt: session.expiresAt,
    });
    expect(await sessionUser(database.db, session.cookieValue, new Date(now.getTime() + 3_600_000))).toBeNull();
    expect(await deleteSession(database.db, session.cookieValue)).toBe(true);
    expect(await sessionUser(database.db, session.cookieValue, now)).toBeNull();
    expect(await deleteSession(database.db, session.cookieValue)).toBe(false);
    expect(await sessionUser(database.db, 'garbage')).toBeNull();
  });

  it('each have their own CSRF token; expired ones are cleared at the next login', async () => {
    const alice = (await authenticatePassword(database.db, 'alice', 'An0ther-password'))!;
    const long = new Date('2000-01-01T00:00:00Z');
    const old = await createSession(database.db, alice.id, 1000, long);
    const fresh = await createSession(database.db, alice.id, 3_600_000);
    expect(fresh.csrfToken).not.toBe(old.csrfToken);
    const all = await database.db.select().from(sessions).where(eq(sessions.userId, alice.id));
    expect(all.map((r) => r.expiresAt.getTime())).not.toContain(old.expiresAt.getTime());
  });
});
