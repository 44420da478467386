import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { describeDatabaseError } from '../db/errors.js';
import { UpdraftError } from '../errors.js';
import { registerBackfillCommands } from './commands/backfill.js';
import { registerClearCommand } from './commands/clear.js';
import { registerConnectionsCommands } from './commands/connections.js';
import { registerDagsCommands } from './commands/dags.js';
import { registerDatasetsCommands } from './commands/datasets.js';
import { registerDbCommands } from './commands/db.js';
import { registerReportsCommands } from './commands/reports.js';
import { registerRunsCommands } from './commands/runs.js';
import { registerServeCommands } from './commands/serve.js';
import { registerTasksCommands } from './commands/tasks.js';
import { registerUsersCommands } from './commands/users.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Exit codes: 0 success, 1 the command failed (or found errors), 2 the command line is wrong. */
const program = new Command('updraft')
  .description('Updraft: an Airflow-style DAG scheduler in TypeScript, with state in PostgreSQL')
  .version(version, '-V, --version', "print Updraft's version")
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

registerServeCommands(program);
registerDbCommands(program);
registerDagsCommands(program);
registerDatasetsCommands(program);
registerRunsCommands(program);
registerClearCommand(program);
registerBackfillCommands(program);
registerTasksCommands(program);
registerReportsCommands(program);
registerConnectionsCommands(program);
registerUsersCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message; --help and --version are not failures.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof UpdraftError) {
    console.error(`updraft: ${error.message}`);
    return 1;
  }
  const database = describeDatabaseError(error);
  console.error(
    `updraft: ${database ?? `unexpected error: ${(error as Error)?.message?.split('\n')[0] ?? String(error)}`}`,
  );
  if (process.env.UPDRAFT_DEBUG) console.error((error as Error)?.stack);
  else console.error('(set UPDRAFT_DEBUG=1 to see the stack trace)');
  return 1;
}
