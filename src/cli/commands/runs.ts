import { InvalidArgumentError, type Command } from 'commander';
import { listRuns, RUN_STATES, type RunState } from '../../catalog/runs.js';
import { formatDuration } from '../../util/duration.js';
import { withDatabase } from '../context.js';
import { formatTable, inZone, printJson } from '../output.js';
import { positiveInt } from '../options.js';

function runState(value: string): RunState {
  if (!RUN_STATES.includes(value as RunState)) throw new InvalidArgumentError(`--state must be one of ${RUN_STATES.join(', ')}, got '${value}'`);
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
        if (more) console.error(`(only the newest ${opts.limit} shown: raise --limit to see older runs)`);
      });
    });
}
