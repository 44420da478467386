import type { Command } from 'commander';
import { eventHistory } from '../../events/read.js';
import { DagProcessor } from '../../processor/processor.js';
import { withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';
import { positiveInt } from '../options.js';

/** Conf in one line, cut to fit a table. */
function short(value: unknown, max = 80): string {
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `updraft dags events <dag>`: a DAG's event trigger, its watermark, recent event runs and dedupe keys. */
export function registerDagEventsCommand(dags: Command): void {
  dags
    .command('events <dag>')
    .description("a DAG's event trigger (NOTIFY or new rows), its recent event runs and dedupe keys")
    .option('-n, --limit <n>', 'how many of each', positiveInt('--limit'), 20)
    .option('--json', 'print JSON')
    .action(async (dagId: string, opts: { limit: number; json?: boolean }) => {
      await withDatabase(async ({ db }, config) => {
        await new DagProcessor(db, config).refresh();
        const history = await eventHistory(db, dagId, opts.limit);
        if (opts.json) return printJson(history);
        if (!history.trigger) {
          console.log(`${dagId} has no event trigger (see docs/event-triggers.md)`);
          return;
        }
        console.log(`${dagId}: ${history.trigger}`);
        if (history.watermark !== null) console.log(`watermark: ${history.watermark}`);
        console.log(
          history.runs.length === 0
            ? 'no event runs yet'
            : formatTable(
                ['run_id', 'state', 'conf'],
                history.runs.map((r) => [r.runId, r.state, short(r.conf)]),
              ),
        );
        if (history.keys.length > 0) {
          console.log('');
          console.log(
            formatTable(
              ['dedupe_key', 'run_id', 'seen_at'],
              history.keys.map((k) => [k.key, k.runId ?? '- (no run)', k.at.toISOString()]),
            ),
          );
        }
      });
    });
}
