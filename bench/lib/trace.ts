/**
 * Where a bench's time goes. installTrace (node-postgres only): every statement sent by any
 * pg.Client in this process is counted and timed (sent to answered, as the caller waits
 * for it), and every transaction is timed from BEGIN to COMMIT, named by its first
 * statement. Install once; read and reset around the part of the bench to look at.
 * sampleCpu and cpuLine: CPU used by the process and by the database's backends.
 * timeCalls: how long each call of a method took (e.g. the scheduler's passes).
 * watchLoopDelay: how long the event loop went without turning.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';

interface Tally {
  count: number;
  ms: number[];
}

export interface Trace {
  /** Statements by their text (whitespace collapsed, cut at 80 characters). */
  statements: Map<string, Tally>;
  /** Transactions by their first statement after BEGIN. */
  transactions: Map<string, Tally>;
  reset(): void;
  /** A few lines: the statements and transactions that took the most time in all. */
  report(top?: number): string;
}

const label = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 80);

export function installTrace(): Trace {
  const statements = new Map<string, Tally>();
  const transactions = new Map<string, Tally>();
  const open = new WeakMap<pg.Client, { at: number; first?: string }>();
  const add = (map: Map<string, Tally>, key: string, ms: number) => {
    const tally = map.get(key) ?? { count: 0, ms: [] };
    tally.count++;
    tally.ms.push(ms);
    map.set(key, tally);
  };
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as string | { text?: string } | undefined;
    const text = typeof config === 'string' ? config : (config?.text ?? '');
    const key = label(text);
    const started = performance.now();
    const tx = open.get(this);
    if (/^begin\b/i.test(key)) open.set(this, { at: started });
    else if (tx?.first === undefined) {
      if (tx) tx.first = key;
    } else if (tx.first.startsWith('select pg_advisory_xact_lock') && !tx.first.includes(' + ')) {
      // A transaction that starts by taking an advisory lock is named by what it does next.
      tx.first = `${tx.first.slice(0, 30)} + ${key}`.slice(0, 80);
    }
    const done = () => {
      add(statements, key, performance.now() - started);
      if (/^(commit|rollback)\b/i.test(key) && tx) {
        add(transactions, tx.first ?? '(empty)', performance.now() - tx.at);
        open.delete(this);
      }
    };
    const callback = args.at(-1);
    if (typeof callback === 'function') {
      args[args.length - 1] = (...result: unknown[]) => {
        done();
        return (callback as (...r: unknown[]) => unknown)(...result);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args) as Promise<unknown> | undefined;
    result?.then(done, done);
    return result;
  };

  const lines = (title: string, map: Map<string, Tally>, top: number) => {
    const rows = [...map.entries()].map(([key, t]) => ({
      key,
      count: t.count,
      total: t.ms.reduce((a, b) => a + b, 0),
      ms: [...t.ms].sort((a, b) => a - b),
    }));
    rows.sort((a, b) => b.total - a.total);
    const all = rows.reduce((a, r) => a + r.total, 0);
    const q = (ms: number[], p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(1);
    return [
      `${title}: ${rows.reduce((a, r) => a + r.count, 0)} in ${(all / 1000).toFixed(2)} s (by total time; count, total, p50 / p90 / max ms)`,
      ...rows
        .slice(0, top)
        .map(
          (r) =>
            `  ${String(r.count).padStart(6)} ${(r.total / 1000).toFixed(2).padStart(6)} s  ${q(r.ms, 0.5)} / ${q(r.ms, 0.9)} / ${r.ms.at(-1)!.toFixed(1)}  ${r.key}`,
        ),
    ];
  };
  return {
    statements,
    transactions,
    reset() {
      statements.clear();
      transactions.clear();
    },
    report(top = 10) {
      return [...lines('transactions', transactions, top), ...lines('statements', statements, top)].join('\n');
    },
  };
}

/** CPU seconds so far of this process (every thread) and of each backend of the database (PostgreSQL on this machine, Linux). */
export interface CpuSample {
  node: number;
  postgres: Map<number, number>;
}

export async function sampleCpu(pids: readonly number[]): Promise<CpuSample> {
  const usage = process.cpuUsage();
  const postgres = new Map<number, number>();
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // utime and stime (fields 14 and 15, in ticks of 1/100 s), counted from after the command name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length > 13) postgres.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
  }
  return { node: (usage.user + usage.system) / 1e6, postgres };
}

/** One line: the CPU the process and the database's backends used between two samples, against the cores there were. */
export function cpuLine(before: CpuSample, after: CpuSample, elapsedMs: number): string {
  let postgres = 0;
  for (const [pid, seconds] of after.postgres) postgres += seconds - (before.postgres.get(pid) ?? 0);
  const node = after.node - before.node;
  const busy = (100 * (node + postgres)) / (elapsedMs / 1000) / os.availableParallelism();
  return `cpu: node ${node.toFixed(2)} s (all its threads), PostgreSQL backends ${postgres.toFixed(2)} s, in ${(elapsedMs / 1000).toFixed(2)} s on ${os.availableParallelism()} cores (${busy.toFixed(0)}% of them)`;
}

/** Times every call of `owner[method]` (an async method on a prototype); `line` sums them up against the time elapsed. */
export function timeCalls<T extends object>(
  owner: T,
  method: keyof T & string,
  what: string,
): { reset(): void; line(elapsedMs: number): string } {
  const calls: number[] = [];
  const original = owner[method] as (...args: unknown[]) => Promise<unknown>;
  (owner as Record<string, unknown>)[method] = async function (this: unknown, ...args: unknown[]) {
    const started = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      calls.push(performance.now() - started);
    }
  };
  return {
    reset: () => {
      calls.length = 0;
    },
    line(elapsedMs) {
      const sorted = [...calls].sort((a, b) => a - b);
      const total = sorted.reduce((a, b) => a + b, 0);
      const q = (p: number) => (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(1);
      return `${what}: ${sorted.length}, ${(total / 1000).toFixed(2)} s in all (${((100 * total) / elapsedMs).toFixed(0)}% of the time), p50 / p90 / max ${q(0.5)} / ${q(0.9)} / ${(sorted.at(-1) ?? 0).toFixed(1)} ms`;
    },
  };
}

/** How long the event loop was kept from turning (timers, worker messages and I/O waited that long): max and p99. */
export function watchLoopDelay(): { reset(): void; line(): string } {
  const resolutionMs = 10;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  // The histogram holds each sampling interval whole: the delay is what exceeds the resolution.
  const ms = (ns: number) => Math.max(0, ns / 1e6 - resolutionMs).toFixed(0);
  return {
    reset: () => histogram.reset(),
    line: () =>
      `event loop delay: max ${ms(histogram.max)} ms, p99 ${ms(histogram.percentile(99))} ms, p50 ${ms(histogram.percentile(50))} ms`,
  };
}
