import { InvalidArgumentError, type Command } from 'commander';
import { taskLog } from '../../catalog/runs.js';
import { withDatabase } from '../context.js';
import { formatLogLine } from '../../util/log-line.js';
import { printJson } from '../output.js';
import { positiveInt } from '../options.js';
import { registerTaskStatesCommand } from './task-states.js';
import { registerTaskTestCommand } from './test-task.js';

function mapIndex(value: string): number {
  if (!/^(-1|\d+)$/.test(value))
    throw new InvalidArgumentError(`--map-index must be -1 or a whole number, got '${value}'`);
  return Number(value);
}

export function registerTasksCommands(program: Command): void {
  const tasks = program.command('tasks').description('task logs and states, and running one task alone');

  tasks
    .command('logs <dag> <run> <task>')
    .description(
      "the stored log of a task: every try, each headed '--- try N ---' (<run>: a run id from 'runs list', or 'latest')",
    )
    .option('--try <n>', 'only this try', positiveInt('--try'))
    .option('--map-index <n>', "a mapped task's instance (see 'tasks states')", mapIndex)
    .option('--json', 'print JSON')
    .action(
      async (
        dagId: string,
        runId: string,
        taskId: string,
        opts: { try?: number; mapIndex?: number; json?: boolean },
      ) => {
        await withDatabase(async ({ db }) => {
          const log = await taskLog(db, dagId, runId, taskId, opts.try, opts.mapIndex);
          if (opts.json) {
            printJson({ dagId, ...log });
            return;
          }
          if (log.logs.length === 0) {
            console.error(`task '${taskId}' of run '${log.runId}' has not started yet (state: ${log.state ?? 'none'})`);
            return;
          }
          for (const { tryNumber, lines } of log.logs) {
            console.log(`--- try ${tryNumber} ---`);
            for (const line of lines) console.log(formatLogLine(line.at, line.level, line.message));
          }
        });
      },
    );

  registerTaskStatesCommand(tasks);
  registerTaskTestCommand(tasks);
}
