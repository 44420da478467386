import os from 'node:os';

/** One line that says where a figure was measured. */
export function machineLine(extra: Record<string, string> = {}): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const memory = `${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  const fields = { cpu, cores: String(os.availableParallelism()), memory, node: process.version, ...extra };
  return Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join(' | ');
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** CPU time of the whole machine (every process) from /proc/stat, in clock ticks; null where there is none (not Linux). */
export async function machineTicks(): Promise<{ busy: number; total: number } | null> {
  const { readFile } = await import('node:fs/promises');
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n')[0] ?? '';
  if (!line.startsWith('cpu ')) return null;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3]! - ticks[4]!, total };
}

/** How busy the machine's cores were between two machineTicks samples, as a percentage; '' if unknown. */
export function machineBusy(
  before: Awaited<ReturnType<typeof machineTicks>>,
  after: Awaited<ReturnType<typeof machineTicks>>,
): string {
  if (!before || !after || after.total === before.total) return '';
  return `${Math.round((100 * (after.busy - before.busy)) / (after.total - before.total))}%`;
}
