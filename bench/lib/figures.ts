/**
 * Figures a benchmark measured, in the shape `npm run bench` (bench/all.ts) collects into
 * its report: each figure is every value measured (one per repetition), with its median
 * and range. A bench prints its figures as it always did, and also writes them as JSON to
 * the file named by BENCH_JSON when that is set.
 *
 *   const figures = new Figures('engine', { 'task threads': '2' });
 *   figures.add('wide_tasks_per_s', 'one run of 20,000 no-op tasks', 'tasks/s', [2400, 2500, 2450]);
 *   await figures.write();
 */
import { writeFile } from 'node:fs/promises';
import { median } from './machine.js';

export interface Figure {
  /** Stable name, for ratios and comparisons between reports: 'wide_tasks_per_s'. */
  key: string;
  /** What was measured, for people: 'one run of 20,000 no-op tasks'. */
  label: string;
  unit: string;
  /** True when a larger value is better (throughput); false for times and costs. */
  higherIsBetter: boolean;
  values: number[];
  median: number;
  min: number;
  max: number;
}

export interface BenchFigures {
  bench: string;
  /** The settings the figures were measured with (sizes, threads, driver). */
  settings: Record<string, string>;
  figures: Figure[];
}

export class Figures {
  readonly figures: Figure[] = [];

  constructor(
    readonly bench: string,
    readonly settings: Record<string, string> = {},
  ) {}

  add(key: string, label: string, unit: string, values: number[], higherIsBetter = false): Figure {
    if (values.length === 0) throw new Error(`figure ${key}: no values`);
    const figure = {
      key,
      label,
      unit,
      higherIsBetter,
      values,
      median: median(values),
      min: Math.min(...values),
      max: Math.max(...values),
    };
    this.figures.push(figure);
    return figure;
  }

  /** Writes the figures to BENCH_JSON, if set. */
  async write(path = process.env.BENCH_JSON): Promise<void> {
    if (!path) return;
    const out: BenchFigures = { bench: this.bench, settings: this.settings, figures: this.figures };
    await writeFile(path, `${JSON.stringify(out, null, 2)}\n`);
  }
}
