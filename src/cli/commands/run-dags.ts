import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config.js';
import { openDatabase } from '../../db/client.js';
import { sessionLimits } from '../../db/session-limits.js';
import { testRun } from '../../engine/test-run.js';
import { createLogger } from '../../log.js';
import { DagProcessor } from '../../processor/processor.js';
import { triggerRun } from '../../scheduler/runs.js';
import { getDag } from '../../catalog/dags.js';
import { cliActor, withDatabase } from '../context.js';
import { dateArg, readDate, withDateRule, type DateArg } from '../dates.js';
import { formatTable, printJson } from '../output.js';

/** --conf: a JSON object. */
export function parseConf(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`--conf is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError('--conf must be a JSON object');
  return parsed as Record<string, unknown>;
}

const time = (d: Date) => d.toISOString().slice(11, 23);

export function registerRunDagCommands(dags: Command): void {
  withDateRule(dags.command('trigger <dag>'))
    .description('queue a manual run (recorded in the audit log); a running scheduler starts it')
    .option('--conf <json>', 'run conf, checked against the DAG params', parseConf)
    .option('--logical-date <date>', 'logical date (default: now)', dateArg('--logical-date'))
    .option('--json', 'print JSON')
    .action(async (dagId: string, opts: { conf?: Record<string, unknown>; logicalDate?: DateArg; json?: boolean }) => {
      await withDatabase(async ({ db }, config) => {
        await new DagProcessor(db, config).refresh();
        const logicalDate =
          opts.logicalDate && readDate(opts.logicalDate, (await getDag(db, dagId)).serialized.timezone);
        const run = await triggerRun(db, dagId, { conf: opts.conf, logicalDate, actor: cliActor() });
        if (opts.json) printJson({ dagId, runId: run.runId, logicalDate: run.logicalDate });
        else console.log(`queued ${dagId} ${run.runId}`);
      });
    });

  withDateRule(dags.command('test'))
    .description('run one DAG run in this process and print each task as it changes; exit 1 if the run failed')
    .argument('<dag>', 'DAG id')
    .argument('[date]', 'logical date (default: now)', dateArg('date'))
    .option('--conf <json>', 'run conf, checked against the DAG params', parseConf)
    .option('--json', 'print only the result as JSON')
    .action(
      async (
        dagId: string,
        logicalDate: DateArg | undefined,
        opts: { conf?: Record<string, unknown>; json?: boolean },
      ) => {
        const config = loadConfig();
        const database = await openDatabase({
          databaseUrl: config.databaseUrl,
          home: config.home,
          session: sessionLimits(config.heartbeatTimeoutMs),
        });
        try {
          const report = await testRun(database, config, dagId, {
            logicalDate: logicalDate?.text,
            conf: opts.conf,
            log: createLogger(opts.json ? 'silent' : 'warn'),
            onTaskState: opts.json
              ? undefined
              : (e) =>
                  console.log(
                    `${time(new Date())}  ${e.taskId.padEnd(24)} ${e.state}${e.tryNumber ? ` (try ${e.tryNumber})` : ''}`,
                  ),
          });
          if (opts.json) {
            printJson(report);
          } else {
            console.log(`\n${report.dagId} ${report.runId}: ${report.state}`);
            console.log(
              formatTable(
                ['task', 'state', 'tries', 'duration'],
                report.tasks.map((t) => [
                  t.taskId,
                  t.state ?? 'none',
                  String(t.tries),
                  t.durationMs === null ? '-' : `${t.durationMs} ms`,
                ]),
              ),
            );
          }
          if (report.state === 'failed') process.exitCode = 1;
        } finally {
          await database.close();
        }
      },
    );
}
