import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { getReport, listReports } from '../../catalog/reports.js';
import { ConfigError } from '../../errors.js';
import { withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';
import { positiveInt } from '../options.js';

const TITLE_WIDTH = 40;

export function registerReportsCommands(program: Command): void {
  const reports = program.command('reports').description('reports rendered by report tasks');

  reports
    .command('list')
    .description('reports, newest first (times in UTC)')
    .option('--dag <dag_id>', "only this DAG's reports")
    .option('--run <run_id>', "only this run's reports (a run id from 'runs list')")
    .option('--limit <n>', 'at most this many reports', positiveInt('--limit'), 25)
    .option('--json', 'print JSON')
    .action(async (opts: { dag?: string; run?: string; limit: number; json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const { reports: list, more } = await listReports(db, { dagId: opts.dag, runId: opts.run, limit: opts.limit });
        if (opts.json) return printJson(list);
        if (list.length === 0) {
          const of = [opts.dag && `DAG '${opts.dag}'`, opts.run && `run '${opts.run}'`].filter(Boolean).join(', ');
          console.log(`no reports${of ? ` of ${of}` : ''}`);
          return;
        }
        console.log(
          formatTable(
            ['id', 'dag_id', 'run_id', 'task_id', 'try', 'format', 'rows', 'size', 'created', 'title'],
            list.map((r) => [
              r.id,
              r.dagId,
              r.runId,
              r.taskId,
              String(r.tryNumber),
              r.format,
              String(r.rows),
              formatBytes(r.bytes),
              `${r.createdAt.toISOString().slice(0, 19)}Z`,
              shorten(r.title),
            ]),
          ),
        );
        if (more) console.error(`(only the newest ${opts.limit} shown: raise --limit to see older reports)`);
      });
    });

  reports
    .command('show <id>')
    .description("a report's content, as rendered (<id> from 'reports list')")
    .option('--output <file>', 'write it to this file instead of printing it')
    .action(async (id: string, opts: { output?: string }) => {
      await withDatabase(async ({ db }) => {
        const report = await getReport(db, id);
        if (!opts.output) {
          process.stdout.write(report.content);
          return;
        }
        const file = path.resolve(opts.output);
        try {
          await writeFile(file, report.content);
        } catch (error) {
          throw new ConfigError(`--output: cannot write ${file}: ${(error as Error).message}`, { cause: error });
        }
        console.log(
          `wrote the ${report.format} report '${report.title}' (${report.dagId}.${report.taskId}, run ${report.runId}, ${report.rows} rows, ${formatBytes(report.bytes)}) to ${file}`,
        );
      });
    });
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function shorten(title: string): string {
  const line = title.replace(/\s+/g, ' ');
  return line.length > TITLE_WIDTH ? `${line.slice(0, TITLE_WIDTH - 1)}…` : line;
}
