/**
 * Sensors in the CLI, as child processes: `updraft tasks states` shows a reschedule-mode
 * sensor up_for_reschedule with its next poke (the run made by a real engine on the
 * child's database, stopped before the CLI opens it), and `updraft tasks test` runs one
 * poke of it and says it would be rescheduled.
 */
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, table, useCli } from '../support/cli.js';
import { startEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';

export const sensing = dag({ id: 'sensing' }, (t) => {
  const wait = t.sensor('wait_for_partner', { mode: 'reschedule', interval: '1h', timeout: '1d', poke: () => false });
  wait.then(t.task('load', () => 'loaded'));
});
`;

const { updraft, setup } = useCli({ 'sensing.ts': DAGS });

describe('sensors in the CLI', () => {
  it(
    "'tasks states' lists a rescheduled sensor as up_for_reschedule on try 1 with its next poke",
    async () => {
      const { child, folder } = setup();
      const database = await child.open();
      try {
        const h = await startEngine(database, folder.path);
        try {
          const rescheduled = h.next(
            'task:state',
            (c) => c.taskId === 'wait_for_partner' && c.state === 'up_for_reschedule',
          );
          await h.trigger('sensing');
          await rescheduled;
        } finally {
          await h.stop();
        }
      } finally {
        await database.close();
      }

      const result = await updraft(['tasks', 'states', 'sensing', 'latest']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const [header, ...rows] = table(result.stdout);
      expect(header).toEqual([
        'task_id',
        'map_index',
        'operator',
        'state',
        'try',
        'started',
        'ended',
        'next_try_at',
        'dag_version',
      ]);
      const sensor = rows.find((r) => r[0] === 'wait_for_partner')!;
      expect(sensor.slice(0, 5)).toEqual(['wait_for_partner', '-', 'sensor', 'up_for_reschedule', '1']);
      // The next poke is an hour after the first one ended.
      const nextPoke = new Date(sensor[7]!).getTime();
      expect(nextPoke - new Date(sensor[6]!).getTime()).toBeGreaterThanOrEqual(3_600_000 - 1_000);
      expect(rows.find((r) => r[0] === 'load')!.slice(0, 5)).toEqual(['load', '-', 'task', 'none', '0']);

      const json = JSON.parse((await updraft(['tasks', 'states', 'sensing', 'latest', '--json'])).stdout);
      expect(json.tasks.find((t: { taskId: string }) => t.taskId === 'wait_for_partner')).toMatchObject({
        state: 'up_for_reschedule',
        tryNumber: 1,
      });
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    "'tasks test' runs one poke of a reschedule-mode sensor and says when it would poke again",
    async () => {
      const result = await updraft(['tasks', 'test', 'sensing', 'wait_for_partner']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        /^up_for_reschedule: the sensor's condition is not met yet; it would poke again at \d{4}-\d\d-\d\dT/m,
      );
    },
    CLI_TEST_TIMEOUT,
  );
});
