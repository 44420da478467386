/**
 * `updraft backfill <dag> --from D --to D`: creates a backfill (or attaches to the same one
 * already running), follows it with a progress bar and ends with a summary; exit 1 when a
 * date failed. `backfill list|show|pause|resume|cancel` manage stored backfills.
 * docs/backfill.md is the user's page.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { isSameRequest, REPROCESS, type BackfillRequest, type PlannedDate } from '../../backfill/create.js';
import type { BackfillInfo, BackfillState, Reprocess } from '../../backfill/read.js';
import { loadConfig, type Config } from '../../config.js';
import { UpdraftError } from '../../errors.js';
import { inZone } from '../../schedule/index.js';
import type { BackfillClient } from '../backfill/client.js';
import { connectBackfills, type BackfillTarget } from '../backfill/connect.js';
import { summary, watchBackfill } from '../backfill/watch.js';
import { cliActor } from '../context.js';
import { withDateRule } from '../dates.js';
import { formatTable, printJson } from '../output.js';
import { positiveInt } from '../options.js';
import { confirm } from '../prompt.js';
import { parseConf } from './run-dags.js';
import { BACKFILL_STATES, RUN_STATES } from '../../state/vocabulary.js';

interface CreateFlags {
  from: string;
  to: string;
  reprocess: Reprocess;
  maxActiveRuns?: number;
  backwards?: boolean;
  conf?: Record<string, unknown>;
  dryRun?: boolean;
  yes?: boolean;
  detach?: boolean;
  cancelOnInterrupt?: boolean;
  json?: boolean;
}

/** A schedulers' heartbeat younger than this counts as a scheduler that will run the backfill. */
const ALIVE_WITHIN_MS = 60_000;

function backfillId(value: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1)
    throw new InvalidArgumentError(
      `a backfill id is a positive whole number ('updraft backfill list'), got '${value}'`,
    );
  return id;
}

/** Runs `fn` against the deployment (connect.ts), closing it afterwards. */
async function withBackfills<T>(
  fn: (target: BackfillTarget, config: Config) => Promise<T>,
  refresh = false,
): Promise<T> {
  const config = loadConfig();
  const target = await connectBackfills(config, cliActor(), { refresh });
  try {
    return await fn(target, config);
  } finally {
    await target.close();
  }
}

export function registerBackfillCommands(program: Command): void {
  const backfill = program
    .command('backfill')
    .description('run a DAG over the schedule intervals of a range of dates, and manage backfills (docs/backfill.md)');

  withDateRule(backfill.command('create <dag>', { isDefault: true }))
    .description("create a backfill and follow it (the default: 'updraft backfill <dag> --from D --to D')")
    .requiredOption('--from <date>', 'first logical date')
    .requiredOption('--to <date>', 'last logical date, included (a day without a time: that whole day)')
    .addOption(
      new Option(
        '--reprocess <which>',
        'dates that already have a run: none leaves them, failed re-runs failed ones, completed re-runs failed and successful ones',
      )
        .choices(REPROCESS)
        .default('none'),
    )
    .option(
      '--max-active-runs <n>',
      "runs of this backfill at once (default 10; independent of the DAG's maxActiveRuns)",
      positiveInt('--max-active-runs'),
    )
    .option('--backwards', 'newest date first')
    .option('--conf <json>', 'conf of every run, checked against the DAG params', parseConf)
    .option('--dry-run', 'print every date and what the backfill would do with it; change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--detach', 'create the backfill and return at once (it runs in the scheduler)')
    .option('--cancel-on-interrupt', 'Ctrl-C cancels the backfill (default: it goes on; on a terminal you are asked)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nA date whose run is queued or running is never duplicated or cleared. Running the same command again attaches to the\n' +
        'backfill it created. Ctrl-C stops following it; it goes on in the scheduler unless you cancel it. Exit 1 if a date failed.',
    )
    .action((dagId: string, flags: CreateFlags) => runBackfill(dagId, flags));

  backfill
    .command('list')
    .description("backfills, newest first (dates in the DAG's timezone)")
    .option('--dag <dag>', 'only this DAG')
    .addOption(new Option('--state <state>', 'only backfills in this state').choices(BACKFILL_STATES))
    .option('--json', 'print JSON')
    .action(async (opts: { dag?: string; state?: BackfillState; json?: boolean }) => {
      await withBackfills(async ({ client }) => {
        const { backfills, total } = await client.list({
          dagId: opts.dag,
          states: opts.state ? [opts.state] : undefined,
          limit: 100,
        });
        if (opts.json) return printJson({ backfills, total });
        if (backfills.length === 0) return console.log('no backfills');
        // Each range in its DAG's timezone, as the user typed it.
        const zones = new Map<string, string>();
        for (const b of backfills) if (!zones.has(b.dagId)) zones.set(b.dagId, await client.timezone(b.dagId));
        const at = (d: Date, dagId: string) => inZone(d, zones.get(dagId)!);
        console.log(
          formatTable(
            ['id', 'dag', 'from', 'to', 'reprocess', 'state', 'planned', 'created_by', 'created_at'],
            backfills.map((b) => [
              String(b.id),
              b.dagId,
              at(b.from, b.dagId),
              at(b.to, b.dagId),
              b.reprocess,
              b.state,
              `${b.planned}${b.planDone ? '' : '+'}`,
              b.createdBy,
              at(b.createdAt, b.dagId),
            ]),
          ),
        );
      });
    });

  backfill
    .command('show')
    .description('a backfill: its settings, progress and dates')
    .argument('<id>', 'backfill id', backfillId)
    .addOption(new Option('--state <state>', 'only dates whose run is in this state').choices(RUN_STATES))
    .option('--limit <n>', 'dates to list (default 50)', positiveInt('--limit'), 50)
    .option('--json', 'print JSON')
    .action(async (id: number, opts: { state?: string; limit: number; json?: boolean }) => {
      await withBackfills(async ({ client }) => {
        const status = await client.status(id);
        const { dates, total } = await client.dates(id, { state: opts.state, limit: opts.limit });
        if (opts.json) return printJson({ ...status, dates, totalDates: total });
        const timezone = await client.timezone(status.backfill.dagId);
        console.log(describe(status.backfill, timezone));
        console.log(await summary(client, status, timezone));
        console.log(
          formatTable(
            ['#', 'logical_date', 'outcome', 'run_id', 'run_state'],
            dates.map((d) => [
              String(d.ordinal + 1),
              inZone(d.logicalDate, timezone),
              d.outcome === 'skipped' ? `left alone (${d.reason})` : (d.outcome ?? 'not started'),
              d.runId ?? '',
              d.runState ?? '',
            ]),
          ),
        );
        if (total > dates.length) console.log(`(${dates.length} of ${total} dates; --limit shows more)`);
      });
    });

  const action = (name: 'pause' | 'resume' | 'cancel', description: string, done: string) =>
    backfill
      .command(name)
      .description(description)
      .argument('<id>', 'backfill id', backfillId)
      .action(async (id: number) => {
        await withBackfills(async ({ client }) => {
          const b = await client[name](id);
          console.log(`backfill ${b.id} of ${b.dagId} ${done}`);
        });
      });
  action(
    'pause',
    'stop starting new dates (runs already running finish)',
    'paused: no new date starts until it is resumed',
  );
  action('resume', 'go on with a paused backfill', 'resumed');
  action(
    'cancel',
    'stop a backfill: its queued and running runs are cancelled, dates not started stay so',
    'cancelled',
  );
}

function describe(b: BackfillInfo, timezone: string): string {
  return [
    `backfill ${b.id} of ${b.dagId}: ${b.state}`,
    `  dates:       ${inZone(b.from, timezone)} to ${inZone(b.to, timezone)}${b.backwards ? ', newest first' : ''}`,
    `  reprocess:   ${b.reprocess}; max active runs ${b.maxActiveRuns}; conf ${JSON.stringify(b.conf)}`,
    `  created:     ${inZone(b.createdAt, timezone)} by ${b.createdBy}${b.completedAt ? `; ended ${inZone(b.completedAt, timezone)}` : ''}`,
  ].join('\n');
}

async function runBackfill(dagId: string, flags: CreateFlags): Promise<void> {
  const request: BackfillRequest = {
    dagId,
    from: flags.from,
    to: flags.to,
    reprocess: flags.reprocess,
    maxActiveRuns: flags.maxActiveRuns,
    backwards: flags.backwards,
    conf: flags.conf,
  };
  const tty = process.stderr.isTTY === true && process.stdin.isTTY === true;
  // With --json, stdout is for the JSON: everything else goes to stderr.
  const say = (line: string) => (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
  await withBackfills(async (target, config) => {
    const { client } = target;
    const timezone = await client.timezone(dagId);
    if (flags.dryRun) return printPlan(await client.dryRun(request), timezone, flags.json);

    let backfill = await client.active(dagId);
    if (backfill && !isSameRequest(backfill, request, timezone)) {
      throw new UpdraftError(
        `DAG '${dagId}' already has an unfinished backfill ${backfill.id} (${backfill.state}, ${inZone(backfill.from, timezone)} to ${inZone(backfill.to, timezone)}, reprocess ${backfill.reprocess}): ` +
          `run the same command to attach to it, or cancel it first ('updraft backfill cancel ${backfill.id}')`,
      );
    }
    if (backfill) {
      say(
        `attached to backfill ${backfill.id} of ${dagId} (${backfill.state}), created ${inZone(backfill.createdAt, timezone)} by ${backfill.createdBy}`,
      );
      if (backfill.state === 'paused') {
        if (
          !flags.yes &&
          !(tty && (await confirm(`backfill ${backfill.id} is paused. Resume it? [y/N] `, process.stderr)))
        ) {
          say(`backfill ${backfill.id} stays paused ('updraft backfill resume ${backfill.id}' resumes it)`);
          process.exitCode = 1;
          return;
        }
        backfill = await client.resume(backfill.id);
        say(`backfill ${backfill.id} resumed`);
      }
    } else {
      if (tty && !flags.yes) {
        const plan = await client.dryRun(request);
        // An empty range goes on to create, which refuses it saying why (exit 1).
        if (
          plan.length > 0 &&
          !(await confirm(`Backfill ${dagId}: ${planCounts(plan)}. Start? [y/N] `, process.stderr))
        )
          return say('no backfill created');
      }
      backfill = await client.create(request);
      say(
        `created backfill ${backfill.id} of ${dagId}: ${inZone(backfill.from, timezone)} to ${inZone(backfill.to, timezone)}, reprocess ${backfill.reprocess}, max ${backfill.maxActiveRuns} active runs`,
      );
    }
    say(`it runs ${target.where}`);
    if (target.deployment !== 'embedded' && !(await client.schedulerAlive(ALIVE_WITHIN_MS))) {
      say(
        target.deployment === 'postgres'
          ? `warning: no scheduler has a heartbeat in the last ${ALIVE_WITHIN_MS / 1000}s: the backfill starts when one runs ('updraft scheduler' or 'updraft standalone')`
          : // The embedded database: the process holding it is the only scheduler there can be.
            `warning: the scheduler of the process holding the embedded database has no heartbeat in the last ${ALIVE_WITHIN_MS / 1000}s: the backfill starts when it beats again`,
      );
    }
    if (flags.detach) {
      say(
        target.deployment === 'embedded'
          ? `detached: backfill ${backfill.id} runs when 'npm start' (standalone) runs, or when you run this command again`
          : `detached: follow it with 'updraft backfill show ${backfill.id}', or run this command again to attach`,
      );
      if (flags.json) printJson(backfill);
      return;
    }
    await follow(target, backfill, { timezone, flags, tty, say, lineEveryMs: config.progressIntervalMs });
  }, true);
}

interface FollowOptions {
  timezone: string;
  flags: CreateFlags;
  tty: boolean;
  lineEveryMs: number;
  say: (line: string) => void;
}

/** Follows the backfill to its end, or until Ctrl-C; sets the exit code. */
async function follow(
  target: BackfillTarget,
  backfill: BackfillInfo,
  { timezone, flags, tty, say, lineEveryMs }: FollowOptions,
): Promise<void> {
  const { client } = target;
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    const engine = target.deployment === 'embedded' ? await target.runHere() : undefined;
    const final = await watchBackfill(client, backfill.id, {
      tty,
      pollMs: tty ? 500 : Math.min(1_000, lineEveryMs),
      lineEveryMs,
      signal: interrupt.signal,
      // In this process, a run's end is known at once.
      nudge: engine ? (wake) => engine.bus.on('run:finished', wake).on('backfill:completed', wake) : undefined,
    });
    if (final) {
      if (flags.json) printJson(final);
      else say(await summary(client, final, timezone));
      if (final.progress.failed > 0 || final.backfill.state === 'cancelled') process.exitCode = 1;
      return;
    }
    await interrupted(client, target, backfill, flags, tty, say);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function interrupted(
  client: BackfillClient,
  target: BackfillTarget,
  backfill: BackfillInfo,
  flags: CreateFlags,
  tty: boolean,
  say: (line: string) => void,
): Promise<void> {
  process.exitCode = 130;
  // A second Ctrl-C while asking leaves at once.
  process.once('SIGINT', () => process.exit(130));
  const cancel =
    flags.cancelOnInterrupt ||
    (tty &&
      (await confirm(`\nCancel backfill ${backfill.id} too (its running runs are stopped)? [y/N] `, process.stderr)));
  if (cancel) {
    await client.cancel(backfill.id);
    say(`backfill ${backfill.id} cancelled`);
    return;
  }
  say(
    target.deployment === 'embedded'
      ? `backfill ${backfill.id} is left as it is: it goes on when you run the same command again, or when 'npm start' runs (running tasks get the shutdown grace to finish)`
      : `backfill ${backfill.id} goes on in the scheduler; run the same command again to follow it, or 'updraft backfill cancel ${backfill.id}' to stop it`,
  );
}

function printPlan(plan: PlannedDate[], timezone: string, json: boolean | undefined): void {
  if (json) {
    printJson(plan);
    return;
  }
  const what = (p: PlannedDate) =>
    p.action === 'create'
      ? 'create a run'
      : p.action === 'clear'
        ? `clear ${p.existing!.runId} (${p.existing!.state}) and run it again`
        : `leave alone: ${p.reason} (${p.existing!.runId}, ${p.existing!.state})`;
  console.log(
    formatTable(
      ['logical_date', 'action'],
      plan.map((p) => [inZone(p.logicalDate, timezone), what(p)]),
    ),
  );
  console.log(`dry run: ${planCounts(plan)}; nothing was changed`);
}

/** '31 dates, 30 to create, 1 to clear and run again, 0 left alone' */
function planCounts(plan: PlannedDate[]): string {
  const count = (action: PlannedDate['action']) => plan.filter((p) => p.action === action).length;
  return `${plan.length} date${plan.length === 1 ? '' : 's'}, ${count('create')} to create, ${count('clear')} to clear and run again, ${count('skip')} left alone`;
}
