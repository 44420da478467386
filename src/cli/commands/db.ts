import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { openDatabase } from '../../db/client.js';
import { sessionLimits } from '../../db/session-limits.js';

export function registerDbCommands(program: Command): void {
  const db = program.command('db').description('manage the database');
  db.command('migrate')
    .description('apply pending migrations (also done automatically at start)')
    .action(async () => {
      const config = loadConfig();
      const database = await openDatabase({
        databaseUrl: config.databaseUrl,
        home: config.home,
        session: sessionLimits(config.heartbeatTimeoutMs),
        migrate: true,
      });
      await database.close();
      console.log(`database is up to date (${config.databaseUrl ? 'PostgreSQL' : `embedded, ${config.home}`})`);
    });
}
