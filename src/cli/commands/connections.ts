import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import {
  addConnection,
  checkConnectionName,
  connectionEnvName,
  connectionUrl,
  deleteConnection,
  listConnections,
  testConnectionUrl,
} from '../../connections/store.js';
import { generateSecretKey } from '../../connections/secret.js';
import { cliActor, withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';

/**
 * `updraft connections`: named PostgreSQL connections for the operators. URLs are
 * shown with the password masked; stored ones are encrypted with UPDRAFT_SECRET_KEY.
 */
export function registerConnectionsCommands(program: Command): void {
  const connections = program
    .command('connections')
    .description('manage the named connections operators use (secrets are encrypted and masked)');

  connections
    .command('list')
    .description('list connections from the environment (UPDRAFT_CONN_<NAME>) and the database, passwords masked')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const list = await listConnections(db);
        if (opts.json) return printJson(list);
        if (list.length === 0) {
          console.log(
            "no connections (set UPDRAFT_CONN_<NAME>=postgres://... or run 'updraft connections add <name> <url>')",
          );
          return;
        }
        console.log(
          formatTable(
            ['name', 'url', 'source', 'description'],
            list.map((c) => [c.name, c.url, c.source, c.description ?? '']),
          ),
        );
      });
    });

  connections
    .command('add')
    .description(
      "store a connection, encrypted with UPDRAFT_SECRET_KEY (replaces one of the same name); give '-' as the URL to read it from stdin and keep it out of the shell history",
    )
    .argument('<name>', 'connection name: a letter, then letters, digits or _')
    .argument('<url>', "postgres://user:password@host:port/database, or '-' to read it from stdin")
    .option('--description <text>', 'what the connection is for')
    .action(async (name: string, url: string, opts: { description?: string }) => {
      checkConnectionName(name);
      const value = url === '-' ? (await text(process.stdin)).trim() : url;
      await withDatabase(async ({ db }) => {
        const added = await addConnection(db, { name, url: value, description: opts.description, actor: cliActor() });
        console.log(`connection '${added.name}' stored: ${added.url}`);
        const envName = connectionEnvName(name);
        if (process.env[envName]) {
          console.error(`note: ${envName} is set in this environment and wins over the stored connection`);
        }
      });
    });

  connections
    .command('delete')
    .description('delete a stored connection')
    .argument('<name>', 'connection name')
    .action(async (name: string) => {
      await withDatabase(async ({ db }) => {
        await deleteConnection(db, name, cliActor());
        console.log(`connection '${name}' deleted`);
      });
    });

  connections
    .command('test')
    .description('connect with a named connection and print the server version; exit 1 if it cannot connect')
    .argument('<name>', 'connection name')
    .action(async (name: string) => {
      await withDatabase(async ({ db }) => {
        const url = await connectionUrl(db, name);
        const { version, ms } = await testConnectionUrl(name, url);
        console.log(`connection '${name}' works: PostgreSQL ${version} (${ms} ms)`);
      });
    });

  connections
    .command('generate-key')
    .description('print a new random key for UPDRAFT_SECRET_KEY')
    .action(() => {
      console.log(generateSecretKey());
    });
}
