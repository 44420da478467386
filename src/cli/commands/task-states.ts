import type { Command } from 'commander';
import { getDag } from '../../catalog/dags.js';
import { taskStates } from '../../catalog/task-states.js';
import { inZone } from '../../schedule/index.js';
import { withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';

/**
 * `updraft tasks states <dag> <run>` (Airflow's tasks states-for-dag-run): every task
 * instance of a run, a mapped task's as task[i], with its state, try and when it runs
 * again (up_for_retry) or pokes again (up_for_reschedule), and the DAG version its latest
 * try ran (--json: every try's).
 */
export function registerTaskStatesCommand(tasks: Command): void {
  tasks
    .command('states <dag> <run>')
    .alias('states-for-dag-run')
    .description(
      "the state of every task instance of a run (a mapped task's as task[i]), its try and when it runs or pokes again (times in the DAG's timezone); <run>: a run id or 'latest'",
    )
    .option('--json', 'print JSON')
    .action(async (dagId: string, runId: string, opts: { json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const { runId: id, tasks } = await taskStates(db, dagId, runId);
        if (opts.json) return printJson({ dagId, runId: id, tasks });
        const { timezone } = (await getDag(db, dagId)).serialized;
        const iso = (d: Date | null) => (d ? inZone(d, timezone) : '-');
        console.log(
          formatTable(
            ['task_id', 'map_index', 'operator', 'state', 'try', 'started', 'ended', 'next_try_at', 'dag_version'],
            tasks.map((t) => [
              t.mapIndex >= 0 ? `${t.taskId}[${t.mapIndex}]` : t.taskId,
              t.mapIndex >= 0 ? String(t.mapIndex) : '-',
              t.operator,
              t.state ?? 'none',
              String(t.tryNumber),
              iso(t.startedAt),
              iso(t.endedAt),
              iso(t.nextTryAt),
              t.dagVersion === null ? '-' : String(t.dagVersion),
            ]),
          ),
        );
      });
    });
}
