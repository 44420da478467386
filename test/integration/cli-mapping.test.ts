/**
 * The example DAGs of branching and mapping (dags/branching.ts, dags/mapped_files.ts), run
 * by `dags test` from the command line; `tasks states` lists a run's task instances, a
 * mapped task's as task[i], and `tasks logs --map-index` reads one instance's log.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, ROOT, table, useCli } from '../support/cli.js';

const example = (name: string) => readFileSync(`${ROOT}dags/${name}`, 'utf8');
const { updraft } = useCli(
  { 'branching.ts': example('branching.ts'), 'mapped_files.ts': example('mapped_files.ts') },
  { UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false' },
);

describe('branching and mapping from the CLI', () => {
  it(
    'runs the weekend path on a Saturday and skips the weekday one',
    async () => {
      const run = await updraft(['dags', 'test', 'branching', '2026-01-03', '--json']);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      const states = Object.fromEntries(
        JSON.parse(run.stdout).tasks.map((t: { taskId: string; state: string }) => [t.taskId, t.state]),
      );
      expect(states).toEqual({
        weekday_or_weekend: 'success',
        weekday_load: 'skipped',
        weekend_summary: 'success',
        report: 'success',
      });
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'lists mapped instances as task[i] with their states, and reads one instance log',
    async () => {
      const run = await updraft(['dags', 'test', 'mapped_files', '2026-01-05']);
      expect(run.code).toBe(0);
      const states = await updraft(['tasks', 'states', 'mapped_files', 'latest']);
      expect(states.code).toBe(0);
      const rows = table(states.stdout).map((r) => [r[0], r[1], r[3]]);
      expect(rows).toEqual([
        ['task_id', 'map_index', 'state'],
        ['list_files', '-', 'success'],
        ['process_file[0]', '0', 'success'],
        ['process_file[1]', '1', 'success'],
        ['process_file[2]', '2', 'success'],
        ['total_rows', '-', 'success'],
      ]);
      const log = await updraft(['tasks', 'logs', 'mapped_files', 'latest', 'process_file', '--map-index', '1']);
      expect(log.stdout).toContain('instance 1 processes 2026-01-05/refunds.csv');
    },
    CLI_TEST_TIMEOUT,
  );
});
