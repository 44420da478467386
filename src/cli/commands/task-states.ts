import type { Command } from 'commander';
import { runTaskInstances } from '../../catalog/task-instances.js';
import { withDatabase } from '../context.js';
import { formatTable, inZone, printJson } from '../output.js';

/** `tasks states <dag> <run>` (Airflow's tasks states-for-dag-run): one row per task instance, a mapped task's as task[i]. */
export function registerTaskStatesCommand(tasks: Command): void {
  tasks
    .command('states <dag> <run>')
    .alias('states-for-dag-run')
    .description("the task instances of a run and their states; a mapped task's instances show as task[i] (<run>: a run id from 'runs list', or 'latest')")
    .option('--json', 'print JSON')
    .action(async (dagId: string, runId: string, opts: { json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const { timezone, tasks: list } = await runTaskInstances(db, dagId, runId);
        if (opts.json) return printJson(list);
        const at = (d: Date | null) => (d ? inZone(d, timezone) : '-');
        console.log(
          formatTable(
            ['task', 'map_index', 'state', 'try', 'started', 'ended'],
            list.map((t) => [t.mapIndex >= 0 ? `${t.taskId}[${t.mapIndex}]` : t.taskId, t.mapIndex >= 0 ? String(t.mapIndex) : '-', t.state ?? 'none', String(t.tryNumber), at(t.startedAt), at(t.endedAt)]),
          ),
        );
      });
    });
}
