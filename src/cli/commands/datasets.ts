import type { Command } from 'commander';
import { listDatasetEvents, listDatasets } from '../../catalog/datasets.js';
import { NotFoundError } from '../../errors.js';
import { DagProcessor } from '../../processor/processor.js';
import { withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';
import { positiveInt } from '../options.js';

const utc = (at: Date) => `${at.toISOString().slice(0, 19)}Z`;

/** `updraft datasets list | events [uri]` (docs/datasets.md). */
export function registerDatasetsCommands(program: Command): void {
  const datasets = program.command('datasets').description('datasets tasks update and DAGs are scheduled on');

  datasets
    .command('list')
    .description(
      'parse the DAGs folder and list datasets: the tasks that update each, the DAGs scheduled on it, its last event (UTC)',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withDatabase(async ({ db }, config) => {
        await new DagProcessor(db, config).refresh();
        const list = await listDatasets(db);
        if (opts.json) return printJson(list);
        if (list.length === 0) {
          console.log("no datasets: a task declares the datasets it updates with its 'outlets' option");
          return;
        }
        console.log(
          formatTable(
            ['uri', 'updated_by', 'scheduled_dags', 'last_event', 'events'],
            list.map((d) => [
              d.uri,
              d.producers.map((p) => `${p.dagId}.${p.taskId}`).join(',') || '-',
              d.consumers.map((c) => `${c.dagId}(${c.when})`).join(',') || '-',
              d.lastEventAt ? utc(d.lastEventAt) : '-',
              String(d.events),
            ]),
          ),
        );
      });
    });

  datasets
    .command('events [uri]')
    .description("dataset events, newest first (UTC), with the producing task's run and the runs each triggered")
    .option('--limit <n>', 'at most this many events', positiveInt('--limit'), 25)
    .option('--json', 'print JSON')
    .action(async (uri: string | undefined, opts: { limit: number; json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        if (uri !== undefined && (await listDatasets(db, { uri })).length === 0)
          throw new NotFoundError(`no dataset '${uri}' (see 'updraft datasets list')`);
        const events = await listDatasetEvents(db, { uri, limit: opts.limit });
        if (opts.json) return printJson(events.map(({ total: _total, ...e }) => e));
        if (events.length === 0) {
          console.log(uri ? `no events of ${uri} yet` : 'no dataset events yet');
          return;
        }
        console.log(
          formatTable(
            ['id', 'at', 'uri', 'source', 'source_run', 'triggered_runs'],
            events.map((e) => [
              String(e.id),
              utc(e.createdAt),
              e.uri,
              `${e.sourceDagId}.${e.sourceTaskId}`,
              e.sourceRunId,
              e.triggeredRuns.map((r) => `${r.dagId}/${r.runId}`).join(',') || '-',
            ]),
          ),
        );
        if (events[0]!.total > events.length)
          console.error(
            `(only the newest ${events.length} of ${events[0]!.total} shown: raise --limit to see older events)`,
          );
      });
    });
}
