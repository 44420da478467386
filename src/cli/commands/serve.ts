import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig, withHost } from '../../config.js';
import { maskUrl } from '../../util/mask.js';
import { openDatabase } from '../../db/client.js';
import { describeError } from '../../db/errors.js';
import { sessionLimits } from '../../db/session-limits.js';
import { holdLimits } from '../../db/socket/session.js';
import { Engine, type Roles } from '../../engine/engine.js';
import { ConfigError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { startWebServer, type WebServer } from '../../web/server.js';
import { closeLiveStreams } from '../../web/ui/live.js';
import { positiveInt } from '../options.js';
import { localToken, publishLocalServer } from '../local-server.js';
import { announceInitialAdmin } from './users.js';

interface ServeOptions {
  port?: number;
  host?: string;
  concurrency?: number;
  execute?: boolean;
  queue?: string[];
}

/** Runs an engine with the given roles until SIGINT or SIGTERM, then stops it gracefully. */
async function serve(roles: Roles, opts: ServeOptions, web: boolean): Promise<void> {
  // The address decides who may read when UPDRAFT_AUTH_READ is unset (config.ts, readAccessFor).
  const loaded = loadConfig();
  const config = withHost(loaded, opts.host ?? loaded.host);
  if (opts.concurrency) config.concurrency = opts.concurrency;
  if (opts.queue) config.queues = opts.queue;
  const log = createLogger(config.logLevel);
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    home: config.home,
    session: sessionLimits(config.heartbeatTimeoutMs),
    // An idle pooled connection that the server ended (a restart): the pool drops it, and the
    // engine's next statement says whether the database is back (engine.ts, reportError).
    onPoolError: (error) => log.debug(`an idle database connection closed: ${describeError(error)}`),
    // On the embedded database, this process holds the files and serves them to the other
    // updraft commands on a socket in the home (src/db/socket/).
    serve: true,
    serving: { scheduler: roles.scheduler, limits: holdLimits(config) },
    onWarning: (message) => log.warn(message),
  });
  if (web) {
    // The web server's first user, as `airflow standalone` makes one; its password is printed this once.
    await announceInitialAdmin(database.db).catch(async (error: unknown) => {
      await database.close();
      throw error;
    });
  }
  const engine = new Engine(database, config, roles, log);
  let server: WebServer | undefined;
  // On the embedded database, CLI commands that change state go through this server (local-server.ts).
  const token = web && !config.databaseUrl ? localToken() : undefined;
  let unpublish: (() => Promise<void>) | undefined;
  try {
    await engine.start();
    if (web) {
      server = await startWebServer(engine, opts.host ?? config.host, opts.port ?? config.port, token).catch(
        (error: Error) => {
          throw new ConfigError(
            `cannot listen on ${opts.host ?? config.host}:${opts.port ?? config.port}: ${error.message} (set UPDRAFT_PORT or --port)`,
          );
        },
      );
      if (token) unpublish = await publishLocalServer(config.home, opts.host ?? config.host, server.port, token);
    }
  } catch (error) {
    await server?.close();
    await engine.stop();
    await database.close();
    throw error;
  }
  const where = config.databaseUrl
    ? `PostgreSQL ${maskUrl(config.databaseUrl)}`
    : `embedded database in ${config.home}`;
  console.error(
    [
      `Updraft is running (${
        Object.entries(roles)
          .filter(([, on]) => on)
          .map(([role]) => role)
          .join(', ') || 'web server'
      })`,
      `  DAGs folder: ${config.dagsFolder}`,
      `  database:    ${where}`,
      server ? `  web UI:      ${server.url}/  (REST API ${server.url}/api/v1, ${server.url}/health)` : '',
      server
        ? `  reading:     ${config.authRead === 'open' ? 'open to anyone who can connect' : 'needs a login or an API token'} (UPDRAFT_AUTH_READ${config.authReadSetting ? '' : ', default for this address'})`
        : '',
      roles.executor ? `  task threads: ${config.concurrency}` : '',
      database.socketFile
        ? `  socket:      ${database.socketFile}  (other updraft commands reach the embedded database here)`
        : '',
      "  'npx updraft dags list' shows the DAGs; new DAGs start paused ('npx updraft dags unpause <dag>').",
      '  Ctrl-C stops.',
    ]
      .filter(Boolean)
      .join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.error(
        `\n${signal}: stopping (running tasks get ${config.shutdownGraceMs / 1000}s to finish; press Ctrl-C again to stop at once)`,
      );
      process.once('SIGINT', () => process.exit(130));
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  // Open event streams (browsers on live pages) would keep the server from closing.
  closeLiveStreams(engine);
  await unpublish?.();
  await server?.close();
  await engine.stop();
  await database.close();
}

/** `--queue a --queue b,c` → ['a', 'b', 'c']. */
function queueNames(value: string, previous: string[] = []): string[] {
  const names = value
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('--queue needs a queue name');
  return [...previous, ...names];
}

/** --concurrency, for every command that runs tasks. */
function concurrencyOption(): Option {
  return new Option('--concurrency <n>', 'task threads (default UPDRAFT_CONCURRENCY or the number of CPUs)').argParser(
    positiveInt('--concurrency'),
  );
}

/** --queue, for the scheduler and worker commands. */
function queueOption(): Option {
  return new Option(
    '--queue <name>',
    "a queue to serve; repeat it or separate names with commas (default UPDRAFT_QUEUES or 'default')",
  ).argParser(queueNames);
}

export function registerServeCommands(program: Command): void {
  program
    .command('standalone')
    .description('everything in one process: parse DAGs, schedule, run tasks, serve /health (what `npm start` runs)')
    .option('-p, --port <port>', 'HTTP port (default UPDRAFT_PORT or 8080)', positiveInt('--port'))
    .option('--host <host>', 'HTTP address (default UPDRAFT_HOST or 127.0.0.1)')
    .addOption(concurrencyOption())
    .action((opts: ServeOptions) => serve({ processor: true, scheduler: true, executor: true }, opts, true));

  program
    .command('web')
    .description(
      'the web server only: UI, REST API, /health and /metrics; no DAG parsing, scheduling or tasks. ' +
        'With DATABASE_URL it runs beside schedulers and workers; on the embedded database it cannot run beside `standalone` ' +
        '(one server process holds the embedded database, and `standalone` serves the same pages)',
    )
    .option('-p, --port <port>', 'HTTP port (default UPDRAFT_PORT or 8080)', positiveInt('--port'))
    .option('--host <host>', 'HTTP address (default UPDRAFT_HOST or 127.0.0.1)')
    .action((opts: ServeOptions) => serve({ processor: false, scheduler: false, executor: false }, opts, true));

  program
    .command('scheduler')
    .description(
      'parse DAGs and schedule runs; also runs tasks unless --no-execute (then `updraft worker` processes run them)',
    )
    .option('--no-execute', 'do not run tasks in this process')
    .addOption(concurrencyOption())
    .addOption(queueOption())
    .action((opts: ServeOptions) =>
      serve({ processor: true, scheduler: true, executor: opts.execute !== false }, opts, false),
    );

  program
    .command('worker')
    .description('run tasks only (needs DATABASE_URL shared with a scheduler, and the same DAG files)')
    .addOption(concurrencyOption())
    .addOption(queueOption())
    .action((opts: ServeOptions) => serve({ processor: false, scheduler: false, executor: true }, opts, false));
}
