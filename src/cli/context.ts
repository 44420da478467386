import os from 'node:os';
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/client.js';
import { sessionLimits } from '../db/session-limits.js';

/** Who a CLI action is recorded as in the audit log. */
export function cliActor(): string {
  return `cli:${os.userInfo().username}`;
}

/** Runs `fn` with the configured database open, closing it afterwards whatever happens. */
export async function withDatabase<T>(fn: (database: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    home: config.home,
    session: sessionLimits(config.heartbeatTimeoutMs),
  });
  try {
    return await fn(database, config);
  } finally {
    await database.close();
  }
}
