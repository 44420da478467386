import type { Command } from 'commander';
import { taskStates } from '../../catalog/task-states.js';
import { withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';

/** `updraft tasks states <dag> <run>`: every task instance of a run with its state, try and next try (or sensor poke). */
export function registerTaskStatesCommand(tasks: Command): void {
  tasks
    .command('states <dag> <run>')
    .alias('states-for-dag-run')
    .description("the state of every task of a run, its try and when it runs again (up_for_retry) or pokes again (up_for_reschedule); <run>: a run id or 'latest'")
    .option('--json', 'print JSON')
    .action(async (dagId: string, runId: string, opts: { json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const { runId: id, tasks } = await taskStates(db, dagId, runId);
        if (opts.json) return printJson({ dagId, runId: id, tasks });
        const iso = (d: Date | null) => d?.toISOString() ?? '';
        console.log(
          formatTable(
            ['task_id', 'operator', 'state', 'try', 'started', 'ended', 'next_try_at'],
            tasks.map((t) => [t.taskId, t.operator, t.state ?? 'none', String(t.tryNumber), iso(t.startedAt), iso(t.endedAt), iso(t.nextTryAt)]),
          ),
        );
      });
    });
}
