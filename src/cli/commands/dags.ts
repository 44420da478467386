import path from 'node:path';
import type { Command } from 'commander';
import { getDag, lastScheduledInterval, listDags, listImportErrors, scheduleSpecOf } from '../../catalog/dags.js';
import { setPaused } from '../../state/pause.js';
import { loadConfig } from '../../config.js';
import { DagProcessor, assertFolder, parseDagFiles } from '../../processor/processor.js';
import { discoverDagFiles } from '../../processor/discover.js';
import { checkParsedFiles } from '../../processor/check.js';
import { inZone, upcomingRuns } from '../../schedule/index.js';
import { describeDatasetSchedule, type DatasetSchedule } from '../../dag/datasets.js';
import { cliActor, withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';
import { positiveInt } from '../options.js';
import { registerRunDagCommands } from './run-dags.js';
import { registerDagEventsCommand } from './dag-events.js';
import { triggerOf } from '../../events/read.js';

export function registerDagsCommands(program: Command): void {
  const dags = program.command('dags').description('list, check, run and manage DAGs');
  registerRunDagCommands(dags);
  registerDagEventsCommand(dags);

  dags
    .command('list')
    .description('parse the DAGs folder and list its DAGs (import errors follow the list)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withDatabase(async ({ db }, config) => {
        await new DagProcessor(db, config).refresh();
        const now = new Date();
        const [list, errors] = await Promise.all([listDags(db, now), listImportErrors(db)]);
        if (opts.json) {
          printJson({
            dags: list.map(({ dag, serialized, nextRun }) => ({
              dagId: dag.dagId,
              schedule: dag.schedule,
              datasetSchedule: dag.datasetSchedule ?? undefined,
              events: triggerOf(serialized) ?? undefined,
              timezone: dag.timezone,
              nextRun: nextRun && {
                logicalDate: nextRun.logicalDate,
                interval: nextRun.interval,
                runAfter: nextRun.runAfter,
              },
              paused: dag.isPaused,
              tags: dag.tags,
              file: dag.file,
            })),
            importErrors: errors.map((e) => ({ file: e.file, line: e.line, column: e.column, message: e.message })),
          });
          return;
        }
        const rows = list.map(({ dag, serialized, nextRun }) => [
          dag.dagId,
          dag.datasetSchedule
            ? describeDatasetSchedule(dag.datasetSchedule as DatasetSchedule)
            : [dag.schedule, triggerOf(serialized)].filter(Boolean).join('; ') || 'manual',
          nextRun ? inZone(nextRun.logicalDate, dag.timezone) : dag.datasetSchedule ? 'on datasets' : '-',
          dag.isPaused ? 'yes' : 'no',
          dag.tags.join(',') || '-',
          dag.file,
        ]);
        console.log(
          list.length > 0
            ? formatTable(['dag_id', 'schedule', 'next_run', 'paused', 'tags', 'file'], rows)
            : `no DAGs in ${config.dagsFolder}`,
        );
        if (errors.length > 0) {
          console.error(`\n${errors.length} file(s) failed to load (fix them, or run 'updraft dags check'):`);
          for (const e of errors) console.error(`  ${e.file}${e.line ? `:${e.line}:${e.column}` : ''}: ${e.message}`);
        }
      });
    });

  dags
    .command('check [files...]')
    .description('parse DAG files (default: the whole DAGs folder) and report every error; exit 1 on any')
    .option('--json', 'print JSON')
    .action(async (files: string[], opts: { json?: boolean }) => {
      const config = loadConfig();
      let paths = files.map((f) => path.resolve(f));
      if (paths.length === 0) {
        await assertFolder(config.dagsFolder);
        paths = (await discoverDagFiles(config.dagsFolder)).map((f) => f.file);
      }
      const shown = (file: string) => path.relative(process.cwd(), file) || file;
      const results = checkParsedFiles(await parseDagFiles(paths, config.importTimeoutMs), shown);
      if (opts.json) {
        printJson(results.map((r) => ({ file: shown(r.file), dagIds: r.dagIds, errors: r.errors })));
      } else {
        for (const r of results) {
          if (r.errors.length === 0)
            console.log(`ok    ${shown(r.file)}: ${r.dagIds.length === 0 ? 'no DAGs' : r.dagIds.join(', ')}`);
          for (const e of r.errors)
            console.log(`error ${shown(r.file)}${e.line ? `:${e.line}:${e.column}` : ''}: ${e.message}`);
        }
        const failed = results.filter((r) => r.errors.length > 0).length;
        console.log(`${results.length} file(s) checked, ${failed} with errors`);
      }
      if (results.some((r) => r.errors.length > 0)) process.exitCode = 1;
    });

  dags
    .command('next <dag>')
    .description('the next logical dates of a DAG with their data intervals')
    .option('-n, --count <n>', 'how many', positiveInt('--count'), 5)
    .option('--json', 'print JSON')
    .action(async (dagId: string, opts: { count: number; json?: boolean }) => {
      await withDatabase(async ({ db }, config) => {
        await new DagProcessor(db, config).refresh();
        const { dag, serialized } = await getDag(db, dagId);
        const runs = upcomingRuns(
          scheduleSpecOf(serialized),
          await lastScheduledInterval(db, dag.id),
          new Date(),
          opts.count,
        );
        if (opts.json) return printJson(runs);
        if (serialized.datasetSchedule) {
          console.log(
            `${dagId} runs ${describeDatasetSchedule(serialized.datasetSchedule)}: no cron next run ('updraft datasets list' shows its datasets)`,
          );
          return;
        }
        if (runs.length === 0) {
          const events = triggerOf(serialized);
          console.log(
            serialized.schedule === null
              ? `${dagId} has no schedule: it runs only when triggered${events ? ` or ${events}` : ''}`
              : `${dagId} has no further runs (its schedule has ended)`,
          );
          return;
        }
        const tz = serialized.timezone;
        console.log(`${dagId}: ${serialized.schedule} in ${tz}`);
        console.log(
          formatTable(
            ['logical_date', 'interval_start', 'interval_end', 'runs_after'],
            runs.map((r) => [
              inZone(r.logicalDate, tz),
              inZone(r.interval.start, tz),
              inZone(r.interval.end, tz),
              inZone(r.runAfter, tz),
            ]),
          ),
        );
      });
    });

  for (const [name, paused] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    dags
      .command(`${name} <dag>`)
      .description(
        paused
          ? 'stop creating runs for a DAG (recorded in the audit log)'
          : 'resume creating runs for a DAG (recorded in the audit log)',
      )
      .action(async (dagId: string) => {
        await withDatabase(async ({ db }, config) => {
          await new DagProcessor(db, config).refresh();
          const changed = await setPaused(db, dagId, paused, cliActor());
          console.log(
            changed
              ? `${dagId} is now ${paused ? 'paused' : 'unpaused'}`
              : `${dagId} was already ${paused ? 'paused' : 'unpaused'}`,
          );
        });
      });
  }
}
