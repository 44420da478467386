/**
 * Named connections: from the environment (UPDRAFT_CONN_<NAME>=postgres://...) or
 * stored in the database, the URL encrypted with UPDRAFT_SECRET_KEY. The environment
 * wins over the database, as Airflow's environment secrets backend does. Every change
 * lands in the audit log; what is shown is always masked.
 */
import { asc, eq } from 'drizzle-orm';
import pg from 'pg';
import type { Db } from '../db/client.js';
import { auditLog, connections } from '../db/schema.js';
import { ConfigError, NotFoundError, UpdraftError } from '../errors.js';
import { pgMessage } from '../db/errors.js';
import { maskUrl } from '../util/mask.js';
import { CONNECTION_NAME, CONNECTION_NAME_HINT } from '../dag/connection-name.js';
import { decrypt, encrypt } from './secret.js';

const ENV_PREFIX = 'UPDRAFT_CONN_';

export interface ConnectionInfo {
  name: string;
  /** The URL with its password masked. */
  url: string;
  source: 'environment' | 'database';
  description: string | null;
}

export type Env = Record<string, string | undefined>;

/** The environment variable of a connection: 'shop' -> UPDRAFT_CONN_SHOP. */
export function connectionEnvName(name: string): string {
  return `${ENV_PREFIX}${name.toUpperCase()}`;
}

export function checkConnectionName(name: string): void {
  if (!CONNECTION_NAME.test(name)) throw new ConfigError(`invalid connection name '${name}': ${CONNECTION_NAME_HINT}`);
}

function checkUrl(url: string, where: string): void {
  let valid = /^postgres(ql)?:\/\//.test(url);
  try {
    new URL(url);
  } catch {
    valid = false;
  }
  // Not shown: what is not a URL cannot be masked reliably, and may hold a password.
  if (!valid)
    throw new ConfigError(
      `${where}: expected a postgres://user:password@host:port/database URL (the value given is not shown: it may hold a password)`,
    );
}

/** Connections from the environment, by lower-case name. */
function fromEnvironment(env: Env): Map<string, string> {
  const found = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(ENV_PREFIX) && value) found.set(key.slice(ENV_PREFIX.length).toLowerCase(), value);
  }
  return found;
}

/** Every connection, environment first, masked. */
export async function listConnections(db: Db, env: Env = process.env): Promise<ConnectionInfo[]> {
  const shown = new Map<string, ConnectionInfo>();
  for (const [name, url] of fromEnvironment(env))
    shown.set(name, { name, url: maskUrl(url), source: 'environment', description: `from ${connectionEnvName(name)}` });
  const rows = await db.select().from(connections).orderBy(asc(connections.name));
  for (const row of rows) {
    if (!shown.has(row.name.toLowerCase()))
      shown.set(row.name.toLowerCase(), {
        name: row.name,
        url: row.displayUrl,
        source: 'database',
        description: row.description,
      });
  }
  return [...shown.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The full URL of a connection (secret included): for the thread that connects, never for display. */
export async function connectionUrl(db: Db | undefined, name: string, env: Env = process.env): Promise<string> {
  const fromEnv = env[connectionEnvName(name)];
  if (fromEnv) {
    checkUrl(fromEnv, connectionEnvName(name));
    return fromEnv;
  }
  if (!db) throw new NotFoundError(`unknown connection '${name}': set ${connectionEnvName(name)}=postgres://...`);
  const [row] = await db.select().from(connections).where(eq(connections.name, name.toLowerCase()));
  if (!row)
    throw new NotFoundError(
      `unknown connection '${name}': set ${connectionEnvName(name)}=postgres://... or add it with 'updraft connections add ${name} <url>'`,
    );
  return decrypt(row.urlEncrypted, env.UPDRAFT_SECRET_KEY, row.name, `connection '${name}'`);
}

/** Stores (or replaces) a connection, encrypted; audited. */
export async function addConnection(
  db: Db,
  input: { name: string; url: string; description?: string; actor: string },
  env: Env = process.env,
): Promise<ConnectionInfo> {
  checkConnectionName(input.name);
  checkUrl(input.url, `connection '${input.name}'`);
  // Stored in lower case: names are case-insensitive, as the environment's are.
  const name = input.name.toLowerCase();
  const urlEncrypted = encrypt(input.url, env.UPDRAFT_SECRET_KEY, name);
  const displayUrl = maskUrl(input.url);
  await db.transaction(async (tx) => {
    const [previous] = await tx.select({ id: connections.id }).from(connections).where(eq(connections.name, name));
    await tx
      .insert(connections)
      .values({ name, urlEncrypted, displayUrl, description: input.description ?? null })
      .onConflictDoUpdate({
        target: connections.name,
        set: { urlEncrypted, displayUrl, description: input.description ?? null },
      });
    await tx.insert(auditLog).values({
      actor: input.actor,
      action: previous ? 'connection.update' : 'connection.add',
      details: { name, url: displayUrl },
    });
  });
  return { name, url: displayUrl, source: 'database', description: input.description ?? null };
}

/** Deletes a stored connection; audited. NotFoundError if there is none by that name. */
export async function deleteConnection(db: Db, name: string, actor: string): Promise<void> {
  await db.transaction(async (tx) => {
    const deleted = await tx
      .delete(connections)
      .where(eq(connections.name, name.toLowerCase()))
      .returning({ url: connections.displayUrl });
    if (deleted.length === 0)
      throw new NotFoundError(`no stored connection named '${name}' (see 'updraft connections list')`);
    await tx.insert(auditLog).values({ actor, action: 'connection.delete', details: { name, url: deleted[0]!.url } });
  });
}

/** Connects to `url` and reports the server's version; errors are masked. */
export async function testConnectionUrl(name: string, url: string): Promise<{ version: string; ms: number }> {
  const started = performance.now();
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'updraft-test',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    // `show server_version` names its column server_version: ask for a named column instead.
    const { rows } = await client.query<{ version: string }>("select current_setting('server_version') as version");
    return { version: rows[0]!.version, ms: Math.round(performance.now() - started) };
  } catch (error) {
    throw new UpdraftError(`connection '${name}' (${maskUrl(url)}): ${pgMessage(error)}`);
  } finally {
    await client.end().catch(() => {});
  }
}
