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
