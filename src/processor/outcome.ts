import type { SerializedDag } from '../dag/serialize.js';

/** Where in a DAG file an error was raised, when the stack says so. */
export interface ErrorLocation {
  line: number | null;
  column: number | null;
}

export interface ParseFailure extends ErrorLocation {
  message: string;
}

export interface ParseTimings {
  /** Importing the module, which runs dag() and so validates it. */
  importMs: number;
  /** Of importMs: checking options and the graph inside dag(). */
  validateMs: number;
  serializeMs: number;
}

/** What parsing one file yields, as posted by the parse thread. */
export type ParseOutcome =
  | { ok: true; dags: SerializedDag[]; timings: ParseTimings }
  | { ok: false; error: ParseFailure };
