import type { ParseFailure } from './outcome.js';
import type { ParsedFile } from './parse.js';

export interface CheckResult {
  file: string;
  dagIds: string[];
  errors: ParseFailure[];
}

/** Per-file errors of a parse, plus DAG ids defined by more than one of the files (named by `show`). */
export function checkParsedFiles(
  parsed: readonly ParsedFile[],
  show: (file: string) => string = (f) => f,
): CheckResult[] {
  const firstFile = new Map<string, string>();
  return parsed.map((p) => {
    if (!p.outcome.ok) return { file: p.file, dagIds: [], errors: [p.outcome.error] };
    const errors: ParseFailure[] = [];
    const dagIds = p.outcome.dags.map((d) => d.dagId);
    for (const id of dagIds) {
      const other = firstFile.get(id);
      if (other !== undefined)
        errors.push({ message: `DAG id '${id}' is already defined in ${show(other)}`, line: null, column: null });
      else firstFile.set(id, p.file);
    }
    return { file: p.file, dagIds, errors };
  });
}
