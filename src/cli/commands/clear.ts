import { InvalidArgumentError, type Command } from 'commander';
import { getDag } from '../../catalog/dags.js';
import { clearTaskInstances, type ClearOptions, type ClearResult } from '../../state/clear.js';
import { cliActor, withDatabase } from '../context.js';
import { dateArg, readDate, withDateRule, type DateArg } from '../dates.js';
import { formatTable, printJson } from '../output.js';
import { confirm } from '../prompt.js';

interface ClearFlags {
  run?: string;
  task?: string;
  from?: DateArg;
  to?: DateArg;
  onlyFailed?: boolean;
  downstream?: boolean;
  upstream?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

function regex(value: string): string {
  try {
    new RegExp(value);
  } catch (error) {
    throw new InvalidArgumentError(`--task is not a valid regular expression: ${(error as Error).message}`);
  }
  return value;
}

export function registerClearCommand(program: Command): void {
  withDateRule(program.command('clear <dag>'))
    .description('clear task instances so that the scheduler runs them again (recorded in the audit log)')
    .option('--run <run>', "only this run (a run id from 'runs list', or latest)")
    .option('-t, --task <regex>', 'only tasks whose id matches this regular expression', regex)
    .option('--from <date>', 'only runs with a logical date at or after this', dateArg('--from'))
    .option(
      '--to <date>',
      'only runs with a logical date at or before this (a day without a time: that whole day, as in a backfill)',
      dateArg('--to'),
    )
    .option('--only-failed', 'only failed and upstream_failed task instances')
    .option('--downstream', 'also the tasks downstream of the matched ones')
    .option('--upstream', 'also the tasks upstream of the matched ones')
    .option('--dry-run', 'print what would be cleared and change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nAt least one of --run, --from and --to is required. On a terminal, clear asks before it changes anything (--yes skips the question).',
    )
    .action(async (dagId: string, flags: ClearFlags) => {
      await withDatabase(async ({ db }) => {
        const timezone = flags.from || flags.to ? (await getDag(db, dagId)).serialized.timezone : 'UTC';
        const options: ClearOptions = {
          actor: cliActor(),
          runId: flags.run,
          taskRegex: flags.task,
          from: readDate(flags.from, timezone),
          to: readDate(flags.to, timezone, true),
          onlyFailed: flags.onlyFailed,
          downstream: flags.downstream,
          upstream: flags.upstream,
        };
        const ask = !flags.dryRun && !flags.yes && process.stdin.isTTY === true;
        if (flags.dryRun || ask) {
          const preview = await clearTaskInstances(db, dagId, { ...options, dryRun: true });
          if (flags.dryRun || preview.count === 0) return show(preview, flags.json);
          // With --json, stdout is for the JSON only: the question goes to stderr.
          const out = flags.json ? process.stderr : process.stdout;
          out.write(`${table(preview)}\n`);
          if (!(await confirm(`Clear these ${preview.count} task instance(s)? [y/N] `, out))) {
            out.write('nothing cleared\n');
            return;
          }
        }
        show(await clearTaskInstances(db, dagId, options), flags.json, ask);
      });
    });
}

function show(result: ClearResult, json: boolean | undefined, listed = false): void {
  if (json) {
    printJson(result);
    return;
  }
  if (result.count === 0) {
    console.log(`no task instances of ${result.dagId} to clear`);
    return;
  }
  if (!listed) console.log(table(result));
  const runs = `${result.runs.length} run${result.runs.length === 1 ? '' : 's'}`;
  console.log(
    result.dryRun
      ? `would clear ${result.count} task instance(s) in ${runs} of ${result.dagId} (dry run: nothing changed)`
      : `cleared ${result.count} task instance(s) in ${runs} of ${result.dagId}; the scheduler runs them again`,
  );
}

function table(result: ClearResult): string {
  return formatTable(
    ['run_id', 'task', 'state', 'tries'],
    result.runs.flatMap((r) =>
      r.tasks.map((t) => [
        r.runId,
        t.mapIndex === undefined ? t.taskId : `${t.taskId}[${t.mapIndex}]`,
        t.state ?? 'none',
        String(t.tryNumber),
      ]),
    ),
  );
}
