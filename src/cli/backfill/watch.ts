/**
 * Following a backfill from the CLI: on a terminal a progress bar (cli-progress) with the
 * dates done out of the total, runs and tasks running, failures and an ETA; without one, a
 * plain line whenever something changed, at most every few seconds. Then a summary.
 */
import cliProgress from 'cli-progress';
import { datesDone, type BackfillInfo, type BackfillProgress } from '../../backfill/read.js';
import { inZone } from '../../schedule/index.js';
import type { BackfillClient, BackfillStatus } from './client.js';

export interface WatchOptions {
  /** Draw a bar (a terminal) or print lines. */
  tty: boolean;
  /** How often to read the progress. */
  pollMs: number;
  /** Plain lines: at most one per this long. */
  lineEveryMs: number;
  /** Stops watching (Ctrl-C); the backfill goes on. */
  signal: AbortSignal;
  /** Read the progress now rather than at the next poll (the in-process engine's events). */
  nudge?: (wake: () => void) => void;
}

const ENDED = new Set(['completed', 'cancelled']);

/** '3/10 dates', '3/10+ dates (planning)' while more are being planned, 'planning the dates' before the first. */
export function datesText(p: BackfillProgress): string {
  if (p.planDone) return `${datesDone(p)}/${p.total} dates`;
  return p.total === 0 ? 'planning the dates' : `${datesDone(p)}/${p.total}+ dates (planning)`;
}

export function progressLine(b: BackfillInfo, p: BackfillProgress): string {
  const paused = b.state === 'paused' ? ' [paused]' : '';
  const done = `${datesDone(p)}/${p.total}`;
  const dates = p.planDone
    ? `${done} dates done`
    : p.total > 0
      ? `${done}+ dates done, more being planned`
      : datesText(p);
  return `backfill ${b.id}${paused}: ${dates} (${p.succeeded} succeeded, ${p.failed} failed, ${p.skipped} left alone), ${p.running + p.queued} runs active, ${p.runningTasks} tasks running`;
}

/**
 * ' | ETA 1m 20s' from the pace since watching began (`first`: the dates done then, at
 * `since`); nothing while the total is unknown (planning), before a date ended, or when paused.
 */
export function etaText(
  b: BackfillInfo,
  p: BackfillProgress,
  first: { done: number; at: number },
  now: number,
): string {
  const done = datesDone(p);
  const rate = (done - first.done) / (now - first.at);
  if (!p.planDone || b.state === 'paused' || done >= p.total || !(rate > 0) || !Number.isFinite(rate)) return '';
  return ` | ETA ${duration((p.total - done) / rate)}`;
}

/** Follows the backfill until it ends (its last status) or the signal fires (null). */
export async function watchBackfill(
  client: BackfillClient,
  id: number,
  options: WatchOptions,
): Promise<BackfillStatus | null> {
  const bar = options.tty
    ? new cliProgress.SingleBar(
        {
          // Our own ETA and dates: cli-progress's prints 'NFs' before the first date ends.
          format: 'backfill {id}{state} |{bar}| {dates} | {active} runs, {tasks} tasks running | {failed} failed{eta}',
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 50,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let wake: (() => void) | undefined;
  options.nudge?.(() => wake?.());
  let lastLine = '';
  let lastLineAt = 0;
  let first: { done: number; at: number } | undefined;
  try {
    for (;;) {
      const status = await client.status(id);
      const { backfill: b, progress: p } = status;
      if (bar) {
        first ??= { done: datesDone(p), at: Date.now() };
        const payload = {
          id: b.id,
          state: b.state === 'paused' ? ' (paused)' : '',
          dates: datesText(p),
          eta: etaText(b, p, first, Date.now()),
          active: p.running + p.queued,
          tasks: p.runningTasks,
          failed: p.failed,
        };
        if (lastLineAt === 0) bar.start(Math.max(p.total, 1), datesDone(p), payload);
        bar.setTotal(Math.max(p.total, 1));
        bar.update(datesDone(p), payload);
        lastLineAt = Date.now();
      } else {
        const line = progressLine(b, p);
        if (
          line !== lastLine &&
          (Date.now() - lastLineAt >= options.lineEveryMs || ENDED.has(b.state) || lastLineAt === 0)
        ) {
          process.stderr.write(`${line}\n`);
          lastLine = line;
          lastLineAt = Date.now();
        }
      }
      if (ENDED.has(b.state)) return status;
      if (options.signal.aborted) return null;
      await new Promise<void>((resolve) => {
        const go = () => {
          clearTimeout(timer);
          options.signal.removeEventListener('abort', go);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(go, options.pollMs);
        options.signal.addEventListener('abort', go);
        wake = go;
      });
      if (options.signal.aborted) return null;
    }
  } finally {
    bar?.stop();
  }
}

/** The end of a backfill in a few lines: its dates by outcome, the failed ones listed, how to re-run them. */
export async function summary(
  client: BackfillClient,
  { backfill: b, progress: p }: BackfillStatus,
  timezone: string,
): Promise<string> {
  const took = b.completedAt ? ` in ${duration(b.completedAt.getTime() - b.createdAt.getTime())}` : '';
  const lines = [
    `backfill ${b.id} of ${b.dagId} ${b.state}${took}: ${p.succeeded} succeeded, ${p.failed} failed, ${p.skipped} left alone${p.pending > 0 ? `, ${p.pending} not started` : ''}`,
  ];
  const list = async (state: 'success' | 'failed', label: string) => {
    const { dates, total } = await client.dates(b.id, { state, limit: 20 });
    if (total === 0) return;
    const more =
      total > dates.length
        ? `, and ${total - dates.length} more ('updraft backfill show ${b.id} --state ${state}')`
        : '';
    lines.push(`${label}: ${dates.map((d) => inZone(d.logicalDate, timezone)).join(', ')}${more}`);
  };
  await list('success', 'succeeded');
  await list('failed', 'failed');
  if (p.failed > 0) {
    lines.push(
      `re-run the failed dates: updraft backfill ${b.dagId} --from ${inZone(b.from, timezone)} --to ${inZone(b.to, timezone)} --reprocess failed${b.backwards ? ' --backwards' : ''}`,
    );
  }
  return lines.join('\n');
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}
