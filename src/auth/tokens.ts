/**
 * API tokens for `Authorization: Bearer updr_...`. The token is shown once, when it is
 * made; the database keeps its sha256, so a leaked table or backup is no key.
 */
import { and, desc, eq, gt, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { apiTokens, users } from '../db/schema.js';
import { ConfigError, NotFoundError } from '../errors.js';
import { audit } from './audit.js';
import { AuthConflictError } from './errors.js';
import { randomSecret, sha256Hex } from './secrets.js';
import type { AuthUser } from './types.js';
import { normalizeUsername } from './users.js';

export const TOKEN_PREFIX = 'updr_';
/** The prefix and 32 random bytes in base64url (43 characters). */
const TOKEN_FORMAT = /^updr_[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** last_used_at is written at most this often per token: a busy client must not write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface TokenInfo {
  id: string;
  username: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface CreatedToken extends TokenInfo {
  /** The token itself: shown this once, never stored. */
  token: string;
}

export function tokenState(
  t: Pick<TokenInfo, 'expiresAt' | 'revokedAt'>,
  now = new Date(),
): 'active' | 'revoked' | 'expired' {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && t.expiresAt <= now) return 'expired';
  return 'active';
}

/** Makes a token for a user; `expiresInMs` unset means it never expires. Audited without the token. */
export async function createToken(
  db: Db,
  input: { username: string; name?: string; expiresInMs?: number; actor: string },
  now = new Date(),
): Promise<CreatedToken> {
  const username = normalizeUsername(input.username);
  const name = (input.name ?? 'default').trim();
  if (name.length === 0 || name.length > 100) throw new ConfigError('token name: use 1 to 100 characters');
  if (input.expiresInMs !== undefined && !(input.expiresInMs > 0))
    throw new ConfigError('token expiry must be a positive duration');
  const token = `${TOKEN_PREFIX}${randomSecret(32)}`;
  const expiresAt = input.expiresInMs === undefined ? null : new Date(now.getTime() + input.expiresInMs);
  return db.transaction(async (tx) => {
    const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.username, username));
    if (!user) throw new NotFoundError(`no user named '${username}' (see 'updraft users list')`);
    const [row] = await tx
      .insert(apiTokens)
      .values({ userId: user.id, name, tokenHash: sha256Hex(token), expiresAt })
      .returning();
    await audit(tx, input.actor, 'token.create', {
      username,
      tokenId: row!.id,
      name,
      expiresAt: expiresAt?.toISOString() ?? null,
    });
    return {
      id: row!.id,
      username,
      name,
      createdAt: row!.createdAt,
      lastUsedAt: null,
      expiresAt,
      revokedAt: null,
      token,
    };
  });
}

const tokenColumns = {
  id: apiTokens.id,
  username: users.username,
  name: apiTokens.name,
  createdAt: apiTokens.createdAt,
  lastUsedAt: apiTokens.lastUsedAt,
  expiresAt: apiTokens.expiresAt,
  revokedAt: apiTokens.revokedAt,
};

/** Tokens, newest first, of one user or of all; never the hashes. */
export async function listTokens(db: Db, filter: { username?: string } = {}): Promise<TokenInfo[]> {
  const query = db.select(tokenColumns).from(apiTokens).innerJoin(users, eq(users.id, apiTokens.userId));
  const where = filter.username === undefined ? undefined : eq(users.username, normalizeUsername(filter.username));
  return query.where(where).orderBy(desc(apiTokens.createdAt));
}

/** Revokes a token by its id (from `tokens list`); audited. */
export async function revokeToken(db: Db, id: string, actor: string, now = new Date()): Promise<TokenInfo> {
  if (!UUID.test(id)) throw new NotFoundError(`no API token with id '${id}' (see 'updraft tokens list')`);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select(tokenColumns)
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .where(eq(apiTokens.id, id))
      .for('update');
    if (!row) throw new NotFoundError(`no API token with id '${id}' (see 'updraft tokens list')`);
    if (row.revokedAt)
      throw new AuthConflictError(
        `API token ${id} ('${row.name}' of ${row.username}) was already revoked at ${row.revokedAt.toISOString()}`,
      );
    await tx.update(apiTokens).set({ revokedAt: now }).where(eq(apiTokens.id, id));
    await audit(tx, actor, 'token.revoke', { username: row.username, tokenId: id, name: row.name });
    return { ...row, revokedAt: now };
  });
}

/**
 * The user of a token (marked `via: 'token'`), or null when the token is unknown, revoked,
 * expired or its user disabled. Notes the use in last_used_at, at most once a minute.
 */
export async function authenticateToken(db: Db, token: string, now = new Date()): Promise<AuthUser | null> {
  if (!TOKEN_FORMAT.test(token)) return null;
  const [row] = await db
    .select({
      tokenId: apiTokens.id,
      lastUsedAt: apiTokens.lastUsedAt,
      id: users.id,
      username: users.username,
      role: users.role,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(
      and(
        eq(apiTokens.tokenHash, sha256Hex(token)),
        isNull(apiTokens.revokedAt),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)),
        eq(users.disabled, false),
      ),
    );
  if (!row) return null;
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    // Conditional, so that concurrent requests of one client write once.
    const stale = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
    await db
      .update(apiTokens)
      .set({ lastUsedAt: now })
      .where(and(eq(apiTokens.id, row.tokenId), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, stale))));
  }
  return { id: row.id, username: row.username, role: row.role, via: 'token' };
}
