/**
 * The `updraft` command as a user runs it: `node bin/updraft.mjs ...` in a child process,
 * against this file's own database (testChildDatabase) and a temporary DAGs folder.
 * Every child start costs a second or more (tsx, PGlite, one parse thread per DAG file),
 * so each test makes few, meaningful invocations; the ones that never open the database
 * run side by side.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLog, dags } from '../../src/db/schema.js';
import { CLI_TEST_TIMEOUT, ROOT, STACK_FRAME, table, useCli } from '../support/cli.js';
import { makeDagFolder, simpleDag } from '../support/dag-folder.js';
import { testDriver } from '../support/db.js';

/** How `dags check` shows a file: relative to its working directory. */
function shown(file: string): string {
  return path.relative(ROOT, file);
}

// Fixed dates in the future, so that no output depends on today's date.
const WEEKDAY_REPORT = `import { dag } from 'updraft';

export default dag(
  {
    id: 'weekday_report',
    schedule: '30 6 * * 1-5',
    timezone: 'Europe/Berlin',
    startDate: '2030-03-28',
    catchup: false,
    tags: ['finance', 'daily'],
  },
  (t) => {
    const extract = t.task('extract', async () => [1, 2, 3]);
    const load = t.task('load', async () => 'done');
    extract.then(load);
  },
);
`;

// Two DAGs in one file of a subfolder: a scheduled one without tags and a manual one.
const SYNC = `import { dag } from 'updraft';

export default dag({ id: 'hourly_sync', schedule: '@hourly', timezone: 'America/New_York', startDate: '2030-06-01T12:00' }, (t) => {
  t.task('sync', async () => null);
});

export const adhoc = dag({ id: 'adhoc_export', schedule: null, tags: ['manual'] }, (t) => {
  t.task('export', async () => null);
});
`;

const CYCLE = `import { dag } from 'updraft';

export default dag({ id: 'cyclic' }, (t) => {
  const a = t.task('a', async () => 1);
  const b = t.task('b', async () => 2);
  a.then(b);
  b.then(a);
});
`;

const SYNTAX = `import { dag } from 'updraft';
const x: number = ;
`;

const CYCLE_MESSAGE = "DAG 'cyclic': dependency cycle: a -> b -> a";

const { updraft, setup } = useCli({
  'weekday_report.ts': WEEKDAY_REPORT,
  'team/sync.ts': SYNC,
  'cycle.ts': CYCLE,
  'syntax.ts': SYNTAX,
});

describe('updraft CLI', () => {
  it(
    '--version and -V print the version of package.json',
    async () => {
      const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
      expect(await updraft(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
      expect(await updraft(['-V'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'db migrate finds the prepared database up to date',
    async () => {
      const result = await updraft(['db', 'migrate']);
      expect(result).toEqual({
        code: 0,
        stdout: `database is up to date (${testDriver() === 'postgres' ? 'PostgreSQL' : `embedded, ${setup().child.env.UPDRAFT_HOME}`})\n`,
        stderr: '',
      });
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'dags list lists the DAGs that loaded and reports the broken files on stderr',
    async () => {
      const { code, stdout, stderr } = await updraft(['dags', 'list']);
      expect(code).toBe(0);
      expect(table(stdout)).toEqual([
        ['dag_id', 'schedule', 'next_run', 'paused', 'tags', 'file'],
        ['adhoc_export', 'manual', '-', 'yes', 'manual', 'team/sync.ts'],
        // The first hour at or after noon New York time on 2030-06-01 (EDT, UTC-4).
        ['hourly_sync', '@hourly', '2030-06-01T12:00:00-04:00', 'yes', '-', 'team/sync.ts'],
        // Thursday 06:30 in Berlin, still on winter time (CET).
        ['weekday_report', '30 6 * * 1-5', '2030-03-28T06:30:00+01:00', 'yes', 'finance,daily', 'weekday_report.ts'],
      ]);
      const lines = stderr.trim().split('\n');
      expect(lines[0]).toBe("2 file(s) failed to load (fix them, or run 'updraft dags check'):");
      expect(lines[1]).toBe(`  cycle.ts:3:16: ${CYCLE_MESSAGE}`);
      expect(lines[2]).toMatch(/^ {2}syntax\.ts:2:18: .*Unexpected ";"/);
      expect(lines).toHaveLength(3);
      expect(stderr).not.toMatch(STACK_FRAME);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'dags next prints the next runs of a cron schedule in its timezone',
    async () => {
      const { code, stdout, stderr } = await updraft(['dags', 'next', 'weekday_report', '-n', '3', '--json']);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      // 06:30 Berlin on weekdays: Thursday, Friday, then Monday after the weekend, on which
      // the clocks went forward (2030-03-31), so 06:30 is 04:30 UTC from then on.
      expect(JSON.parse(stdout)).toEqual([
        {
          logicalDate: '2030-03-28T05:30:00.000Z',
          interval: { start: '2030-03-28T05:30:00.000Z', end: '2030-03-29T05:30:00.000Z' },
          runAfter: '2030-03-29T05:30:00.000Z',
        },
        {
          logicalDate: '2030-03-29T05:30:00.000Z',
          interval: { start: '2030-03-29T05:30:00.000Z', end: '2030-04-01T04:30:00.000Z' },
          runAfter: '2030-04-01T04:30:00.000Z',
        },
        {
          logicalDate: '2030-04-01T04:30:00.000Z',
          interval: { start: '2030-04-01T04:30:00.000Z', end: '2030-04-02T04:30:00.000Z' },
          runAfter: '2030-04-02T04:30:00.000Z',
        },
      ]);
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'dags unpause and pause change the state shown by dags list --json and write the audit log',
    async () => {
      const unpaused = await updraft(['dags', 'unpause', 'weekday_report']);
      expect(unpaused).toEqual({ code: 0, stdout: 'weekday_report is now unpaused\n', stderr: '' });

      const listed = await updraft(['dags', 'list', '--json']);
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual({
        dags: [
          {
            dagId: 'adhoc_export',
            schedule: null,
            timezone: 'UTC',
            nextRun: null,
            paused: true,
            tags: ['manual'],
            file: 'team/sync.ts',
          },
          {
            dagId: 'hourly_sync',
            schedule: '@hourly',
            timezone: 'America/New_York',
            nextRun: {
              logicalDate: '2030-06-01T16:00:00.000Z',
              interval: { start: '2030-06-01T16:00:00.000Z', end: '2030-06-01T17:00:00.000Z' },
              runAfter: '2030-06-01T17:00:00.000Z',
            },
            paused: true,
            tags: [],
            file: 'team/sync.ts',
          },
          {
            dagId: 'weekday_report',
            schedule: '30 6 * * 1-5',
            timezone: 'Europe/Berlin',
            nextRun: {
              logicalDate: '2030-03-28T05:30:00.000Z',
              interval: { start: '2030-03-28T05:30:00.000Z', end: '2030-03-29T05:30:00.000Z' },
              runAfter: '2030-03-29T05:30:00.000Z',
            },
            paused: false,
            tags: ['finance', 'daily'],
            file: 'weekday_report.ts',
          },
        ],
        importErrors: [
          { file: 'cycle.ts', line: 3, column: 16, message: CYCLE_MESSAGE },
          { file: 'syntax.ts', line: 2, column: 18, message: expect.stringContaining('Unexpected ";"') },
        ],
      });

      const paused = await updraft(['dags', 'pause', 'weekday_report']);
      expect(paused).toEqual({ code: 0, stdout: 'weekday_report is now paused\n', stderr: '' });

      // The child has exited: on PGlite the database is free for this process now.
      const database = await setup().child.open();
      try {
        const [row] = await database.db
          .select({ isPaused: dags.isPaused })
          .from(dags)
          .where(eq(dags.dagId, 'weekday_report'));
        expect(row).toEqual({ isPaused: true });
        const audit = await database.db
          .select({ actor: auditLog.actor, action: auditLog.action, dagId: auditLog.dagId })
          .from(auditLog)
          .orderBy(asc(auditLog.at), asc(auditLog.id));
        const actor = `cli:${os.userInfo().username}`;
        expect(audit).toEqual([
          { actor, action: 'dag.unpause', dagId: 'weekday_report' },
          { actor, action: 'dag.pause', dagId: 'weekday_report' },
        ]);
      } finally {
        await database.close();
      }
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'dags check reports every broken file with its location, exits 1 on any error and 0 without',
    async () => {
      const { folder } = setup();
      // Another folder: the same DAG id in two files.
      const twins = await makeDagFolder();
      try {
        const first = await twins.write('first.ts', simpleDag('twin'));
        const second = await twins.write('second.ts', simpleDag('twin'));
        // None of these opens the database: they run side by side.
        const [all, good, duplicate] = await Promise.all([
          updraft(['dags', 'check']),
          updraft(['dags', 'check', path.join(folder.path, 'weekday_report.ts')]),
          updraft(['dags', 'check', first, second]),
        ]);

        expect(all.code).toBe(1);
        const lines = all.stdout.trimEnd().split('\n');
        expect(lines).toEqual([
          `error ${shown(path.join(folder.path, 'cycle.ts'))}:3:16: ${CYCLE_MESSAGE}`,
          expect.stringMatching(
            new RegExp(`^error ${escapeRegExp(shown(path.join(folder.path, 'syntax.ts')))}:2:18: .*Unexpected ";"`),
          ),
          `ok    ${shown(path.join(folder.path, 'team/sync.ts'))}: adhoc_export, hourly_sync`,
          `ok    ${shown(path.join(folder.path, 'weekday_report.ts'))}: weekday_report`,
          '4 file(s) checked, 2 with errors',
        ]);
        expect(all.stderr).toBe('');

        expect(good).toEqual({
          code: 0,
          stdout: `ok    ${shown(path.join(folder.path, 'weekday_report.ts'))}: weekday_report\n1 file(s) checked, 0 with errors\n`,
          stderr: '',
        });

        expect(duplicate.code).toBe(1);
        expect(duplicate.stdout.trimEnd().split('\n')).toEqual([
          `ok    ${shown(first)}: twin`,
          `error ${shown(second)}: DAG id 'twin' is already defined in ${shown(first)}`,
          '2 file(s) checked, 1 with errors',
        ]);
      } finally {
        await twins.cleanup();
      }
    },
    CLI_TEST_TIMEOUT,
  );

  it(
    'an unknown DAG id, a wrong flag value, an invalid environment and a missing DAGs folder fail with one line naming them',
    async () => {
      // Only the first opens the database (the others stop before): side by side is safe on PGlite too.
      const missing = path.join(setup().folder.path, 'missing');
      const [unknownDag, badFlag, badEnv, noFolder] = await Promise.all([
        updraft(['dags', 'next', 'no_such_dag']),
        updraft(['dags', 'next', 'weekday_report', '-n', '0']),
        updraft(['dags', 'list'], { UPDRAFT_DAGS_PAUSED_AT_CREATION: 'maybe' }),
        updraft(['dags', 'check'], { UPDRAFT_DAGS_FOLDER: missing }),
      ]);

      expect(unknownDag).toEqual({
        code: 1,
        stdout: '',
        stderr: "updraft: no DAG with id 'no_such_dag' (see 'updraft dags list')\n",
      });

      // A wrong command line exits 2; commander names the flag, then points at --help.
      expect(badFlag.code).toBe(2);
      expect(badFlag.stdout).toBe('');
      expect(badFlag.stderr).toMatch(
        /^error: option '-n, --count <n>' argument '0' is invalid\. --count takes a positive whole number, got '0'\n/,
      );

      expect(badEnv).toEqual({
        code: 1,
        stdout: '',
        stderr: "updraft: invalid environment: UPDRAFT_DAGS_PAUSED_AT_CREATION: expected 'true' or 'false'\n",
      });

      expect(noFolder).toEqual({
        code: 1,
        stdout: '',
        stderr: `updraft: the DAGs folder ${missing} does not exist (set UPDRAFT_DAGS_FOLDER to change it)\n`,
      });

      for (const { stderr } of [unknownDag, badFlag, badEnv, noFolder]) expect(stderr).not.toMatch(STACK_FRAME);
    },
    CLI_TEST_TIMEOUT,
  );
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
