/**
 * `updraft datasets list` and `updraft datasets events` (docs/datasets.md), as child
 * processes: the links from the DAGs folder, and the event a `dags test` run records.
 */
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, table, useCli } from '../support/cli.js';

const DAGS = `import { dag } from 'updraft';

export const producer = dag({ id: 'cli_producer' }, (t) => {
  t.task('load', { outlets: ['file:///data/orders.csv'] }, async () => 1);
});
export const consumer = dag({ id: 'cli_consumer', schedule: { datasets: ['file:///data/orders.csv'], when: 'any' } }, (t) => {
  t.task('use', async () => 1);
});
`;

const { updraft } = useCli({ 'datasets.ts': DAGS }, { UPDRAFT_DAGS_PAUSED_AT_CREATION: 'false' });

describe('updraft datasets', () => {
  it(
    'lists datasets with their producing tasks and consuming DAGs, then the events a run records',
    async () => {
      const list = await updraft(['datasets', 'list']);
      expect(list.code, list.stderr).toBe(0);
      expect(table(list.stdout)).toContainEqual([
        'file:///data/orders.csv',
        'cli_producer.load',
        'cli_consumer(any)',
        '-',
        '0',
      ]);
      const dags = await updraft(['dags', 'list']);
      expect(dags.stdout).toContain('on datasets: file:///data/orders.csv (any)');
      const next = await updraft(['dags', 'next', 'cli_consumer']);
      expect(next.stdout).toContain('cli_consumer runs on datasets: file:///data/orders.csv (any)');

      const run = await updraft(['dags', 'test', 'cli_producer', '2030-01-01']);
      expect(run.code, run.stderr).toBe(0);
      const events = await updraft(['datasets', 'events', 'file:///data/orders.csv', '--json']);
      expect(events.code, events.stderr).toBe(0);
      const parsed = JSON.parse(events.stdout) as {
        uri: string;
        sourceDagId: string;
        sourceTaskId: string;
        sourceRunId: string;
      }[];
      expect(parsed).toHaveLength(1);
      expect(parsed[0]).toMatchObject({
        uri: 'file:///data/orders.csv',
        sourceDagId: 'cli_producer',
        sourceTaskId: 'load',
        sourceRunId: 'manual__2030-01-01T00:00:00+00:00',
      });
      const json = JSON.parse((await updraft(['datasets', 'list', '--json'])).stdout) as {
        uri: string;
        events: number;
      }[];
      expect(json[0]).toMatchObject({ uri: 'file:///data/orders.csv', events: 1 });
      const missing = await updraft(['datasets', 'events', 'nowhere://x']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("no dataset 'nowhere://x'");
    },
    CLI_TEST_TIMEOUT,
  );
});
