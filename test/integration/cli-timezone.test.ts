/**
 * The one rule for dates typed on the command line (DATE_INPUT_RULE): without Z or an offset,
 * in the DAG's timezone; with one, that instant. A Europe/Berlin DAG, whose midnight of
 * 2026-11-03 is 2026-11-02T23:00Z; every command reads the same text as the same instant.
 */
import { describe, expect, it } from 'vitest';
import { DATE_INPUT_RULE } from '../../src/schedule/index.js';
import { CLI_TEST_TIMEOUT, useCli } from '../support/cli.js';

const BERLIN = `import { dag } from 'updraft';

export default dag({ id: 'berlin', schedule: '@daily', startDate: '2026-01-01', timezone: 'Europe/Berlin' }, (t) => {
  t.task('stamp', async (ctx) => ctx.logicalDate.toISOString());
});
`;

const { updraft } = useCli({ 'berlin.ts': BERLIN });

/** Commander wraps help text at the terminal's width: compare the words only. */
const words = (text: string) => text.replace(/\s+/g, ' ');

describe('dates typed on the command line', () => {
  it(
    "dags test reads a date in the DAG's timezone; backfill and clear read the same range as the same runs",
    async () => {
      const tested: string[] = [];
      for (const day of ['2026-11-01', '2026-11-02', '2026-11-03']) {
        const result = await updraft(['dags', 'test', 'berlin', day, '--json']);
        expect(result.code, result.stderr).toBe(0);
        tested.push(JSON.parse(result.stdout).runId);
      }
      // Midnight in Berlin (UTC+01:00 in November).
      expect(tested).toEqual([
        'manual__2026-10-31T23:00:00+00:00',
        'manual__2026-11-01T23:00:00+00:00',
        'manual__2026-11-02T23:00:00+00:00',
      ]);

      const plan = await updraft([
        'backfill',
        'berlin',
        '--from',
        '2026-11-01',
        '--to',
        '2026-11-03',
        '--dry-run',
        '--json',
      ]);
      expect(plan.code, plan.stderr).toBe(0);
      const planned = JSON.parse(plan.stdout) as { existing?: { runId: string } }[];
      expect(planned.map((p) => p.existing?.runId)).toEqual(tested);

      const cleared = await updraft([
        'clear',
        'berlin',
        '--from',
        '2026-11-01',
        '--to',
        '2026-11-03',
        '--dry-run',
        '--json',
      ]);
      expect(cleared.code, cleared.stderr).toBe(0);
      expect((JSON.parse(cleared.stdout).runs as { runId: string }[]).map((r) => r.runId).sort()).toEqual(tested);

      // With an offset, that instant: only the run at 2026-11-01T23:00Z is in the UTC day of the 1st.
      const exact = await updraft([
        'clear',
        'berlin',
        '--from',
        '2026-11-01T00:00Z',
        '--to',
        '2026-11-01T23:00:00+00:00',
        '--dry-run',
        '--json',
      ]);
      expect((JSON.parse(exact.stdout).runs as { runId: string }[]).map((r) => r.runId)).toEqual([
        'manual__2026-11-01T23:00:00+00:00',
      ]);
    },
    // Six commands in a row.
    2 * CLI_TEST_TIMEOUT,
  );

  it(
    "dags trigger --logical-date and tasks test read a date in the DAG's timezone, and show it there with its offset",
    async () => {
      // One at a time: on the embedded database one process at a time opens it.
      const local = await updraft(['dags', 'trigger', 'berlin', '--logical-date', '2026-12-01', '--json']);
      const instant = await updraft([
        'dags',
        'trigger',
        'berlin',
        '--logical-date',
        '2026-12-05T06:00+01:00',
        '--json',
      ]);
      const alone = await updraft(['tasks', 'test', 'berlin', 'stamp', '2026-11-03']);
      expect(local.code, local.stderr).toBe(0);
      expect(JSON.parse(local.stdout)).toMatchObject({
        runId: 'manual__2026-11-30T23:00:00+00:00',
        logicalDate: '2026-11-30T23:00:00.000Z',
      });
      expect(JSON.parse(instant.stdout)).toMatchObject({ logicalDate: '2026-12-05T05:00:00.000Z' });
      expect(alone.code, alone.stderr).toBe(0);
      expect(alone.stderr).toContain('logical date 2026-11-03T00:00:00+01:00');
      expect(alone.stdout).toContain('success: "2026-11-02T23:00:00.000Z"');
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'every command that takes a date says the rule in the same words, and refuses a bad date naming the flag (exit 2)',
    async () => {
      const commands = [['clear'], ['backfill', 'create'], ['dags', 'trigger'], ['dags', 'test'], ['tasks', 'test']];
      const helps = await Promise.all(commands.map((c) => updraft([...c, '--help'])));
      for (const help of helps) expect(words(help.stdout)).toContain(`Dates: ${DATE_INPUT_RULE}.`);

      const bad = await updraft(['clear', 'berlin', '--to', '2026-11-31']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--to: cannot read date '2026-11-31': there is no day 31 in 2026-11");
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    "backfill list and show print created_at in the DAG's timezone with its offset, as the range",
    async () => {
      const created = await updraft(['backfill', 'berlin', '--from', '2026-11-20', '--to', '2026-11-20', '--detach']);
      expect(created.code, created.stderr).toBe(0);
      const id = /created backfill (\d+)/.exec(created.stdout)![1];
      // Berlin in November: +01:00, for the range and for the time it was created.
      const stamp = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+01:00`;
      const list = await updraft(['backfill', 'list', '--dag', 'berlin']);
      expect(list.stdout).toMatch(new RegExp(`^${id} +berlin +2026-11-20T00:00:00\\+01:00 .* ${stamp}$`, 'm'));
      const show = await updraft(['backfill', 'show', id!]);
      expect(show.stdout).toMatch(new RegExp(`^  created: +${stamp} by `, 'm'));
    },
    CLI_TEST_TIMEOUT,
  );
});
