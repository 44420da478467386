import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { ConfigError } from '../errors.js';
import { discoverDagFiles, type DagFileStat } from './discover.js';
import { parseDagFile, type ParsedFile } from './parse.js';
import { storeParsedFiles, type FileReport } from './store.js';

export type ProcessorConfig = Pick<Config, 'dagsFolder' | 'pausedAtCreation' | 'importTimeoutMs' | 'dagsPollMs'>;

/** Parses many files, a few at a time (each parse is its own thread). */
export async function parseDagFiles(files: readonly string[], timeoutMs: number): Promise<ParsedFile[]> {
  const results: ParsedFile[] = new Array(files.length);
  let next = 0;
  const lanes = Math.max(1, Math.min(os.availableParallelism(), files.length));
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < files.length) {
        const i = next++;
        results[i] = await parseDagFile(files[i]!, timeoutMs);
      }
    }),
  );
  return results;
}

export async function assertFolder(folder: string): Promise<void> {
  const info = await stat(folder).catch(() => null);
  if (!info?.isDirectory())
    throw new ConfigError(`the DAGs folder ${folder} does not exist (set UPDRAFT_DAGS_FOLDER to change it)`);
}

/**
 * Keeps the database in step with the DAGs folder: parses new and changed files
 * away from the scheduling loop and stores the results. `start()` checks the folder
 * every `dagsPollMs` (1 s by default, so a change is picked up within 2 s).
 */
export class DagProcessor {
  readonly events = new EventEmitter<{ parsed: [FileReport[]]; error: [Error] }>();
  #known = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(
    private readonly db: Db,
    private readonly config: ProcessorConfig,
  ) {}

  /** Parses every changed file (all of them with `force`) and stores what it found. */
  async refresh(options: { force?: boolean } = {}): Promise<FileReport[]> {
    await assertFolder(this.config.dagsFolder);
    const files = await discoverDagFiles(this.config.dagsFolder);
    const fingerprint = (f: DagFileStat) => `${f.mtimeMs}:${f.size}`;
    const changed = files.filter((f) => options.force || this.#known.get(f.file) !== fingerprint(f));
    const removed = [...this.#known.keys()].some((file) => !files.some((f) => f.file === file));
    if (changed.length === 0 && !removed && this.#known.size > 0) return [];

    const parsed = await parseDagFiles(
      changed.map((f) => f.file),
      this.config.importTimeoutMs,
    );
    const reports = await storeParsedFiles(this.db, parsed, {
      dagsFolder: this.config.dagsFolder,
      pausedAtCreation: this.config.pausedAtCreation,
      presentFiles: files.map((f) => f.file),
    });
    this.#known = new Map(files.map((f) => [f.file, fingerprint(f)]));
    this.events.emit('parsed', reports);
    return reports;
  }

  start(): void {
    const tick = async () => {
      this.#running = this.refresh().catch((error: Error) => this.events.emit('error', error));
      await this.#running;
      if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.config.dagsPollMs);
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
