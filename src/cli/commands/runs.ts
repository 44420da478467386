import { InvalidArgumentError, type Command } from 'commander';
import { cancelRun, markRun, type RunStateChange } from '../../state/mark.js';
import { listRuns } from '../../catalog/runs.js';
import { RUN_STATES, type RunState } from '../../state/vocabulary.js';
import { inZone } from '../../schedule/index.js';
import { formatDuration } from '../../util/duration.js';
import { cliActor, withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';
import { positiveInt } from '../options.js';

function markState(value: string): 'success' | 'failed' {
  if (value !== 'success' && value !== 'failed')
    throw new InvalidArgumentError(`the state must be success or failed, got '${value}'`);
  return value;
}

/** One line for the run, then one per task instance that changed. */
function showChange(change: RunStateChange, verb: string, json: boolean | undefined): void {
  if (json) {
    printJson(change);
    return;
  }
  console.log(`${verb} ${change.dagId} ${change.runId}: ${change.previous} -> ${change.state}`);
  if (change.tasks.length === 0) return;
  console.log(
    formatTable(
      ['task', 'was', 'now'],
      change.tasks.map((t) => [t.taskId, t.from ?? 'none', `${t.to}${t.stopped ? ' (its try is stopped)' : ''}`]),
    ),
  );
}

function runState(value: string): RunState {
  if (!RUN_STATES.includes(value as RunState))
    throw new InvalidArgumentError(`--state must be one of ${RUN_STATES.join(', ')}, got '${value}'`);
  return value as RunState;
}

export function registerRunsCommands(program: Command): void {
  const runs = program.command('runs').description('DAG runs');

  runs
    .command('list <dag>')
    .description("a DAG's runs, newest logical date first (times in the DAG's timezone)")
    .option('--state <state>', `only runs in this state (${RUN_STATES.join(', ')})`, runState)
    .option('--limit <n>', 'at most this many runs', positiveInt('--limit'), 25)
    .option('--json', 'print JSON')
    .action(async (dagId: string, opts: { state?: RunState; limit: number; json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const { timezone, runs: list, more } = await listRuns(db, dagId, { state: opts.state, limit: opts.limit });
        if (opts.json) return printJson(list);
        if (list.length === 0) {
          console.log(`no ${opts.state ? `${opts.state} ` : ''}runs of ${dagId}`);
          return;
        }
        const at = (d: Date | null) => (d ? inZone(d, timezone) : '-');
        console.log(
          formatTable(
            ['run_id', 'type', 'state', 'logical_date', 'data_interval', 'started', 'ended', 'duration'],
            list.map((r) => [
              r.runId,
              r.type,
              r.state,
              at(r.logicalDate),
              `${at(r.interval.start)}/${at(r.interval.end)}`,
              at(r.startedAt),
              at(r.endedAt),
              r.durationMs === null ? '-' : formatDuration(r.durationMs),
            ]),
          ),
        );
        // A run callback has no task log: its failure is shown with the run (docs/callbacks.md).
        for (const r of list) if (r.callbackError) console.log(`run ${r.runId}: ${r.callbackError}`);
        if (more) console.error(`(only the newest ${opts.limit} shown: raise --limit to see older runs)`);
      });
    });

  runs
    .command('mark')
    .description(
      "set a run's state (recorded in the audit log): success marks its other tasks success; failed marks queued and running tasks failed and unstarted ones skipped",
    )
    .argument('<dag>', 'DAG id')
    .argument('<run>', "a run id from 'runs list', or latest")
    .argument('<state>', 'success or failed', markState)
    .option('--json', 'print JSON')
    .action(async (dagId: string, runId: string, state: 'success' | 'failed', opts: { json?: boolean }) => {
      await withDatabase(async ({ db }) =>
        showChange(await markRun(db, dagId, runId, state, { actor: cliActor() }), 'marked', opts.json),
      );
    });

  runs
    .command('cancel')
    .description(
      'stop a queued or running run (recorded in the audit log): it fails, running tasks are stopped and fail, unstarted ones are skipped',
    )
    .argument('<dag>', 'DAG id')
    .argument('<run>', "a run id from 'runs list', or latest")
    .option('--json', 'print JSON')
    .action(async (dagId: string, runId: string, opts: { json?: boolean }) => {
      await withDatabase(async ({ db }) =>
        showChange(await cancelRun(db, dagId, runId, { actor: cliActor() }), 'cancelled', opts.json),
      );
    });
}
