/**
 * Running operators directly, the way a task thread does, for tests on a real
 * PostgreSQL (test/postgres): scratch databases on the TEST_DATABASE_URL server, and a
 * context whose connections, kept state, reports and log lines the test can inspect.
 *
 *   const dbs = useScratchDatabases(['source', 'target']);   // created before, dropped after the file
 *   const h = operatorHarness({ source: dbs.url('source'), target: dbs.url('target') });
 *   const result = await syncOperator.run(config, h.context());
 *   expect(h.logs).toContain(...)
 */
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { TaskContext } from '../../src/dag/types.js';
import { closePools, poolFor } from '../../src/operators/pg.js';
import { OperatorError, type OperatorContext, type ReportOutput } from '../../src/operators/types.js';
import { createDatabase, dropDatabase, testDatabaseName, urlFor } from './postgres-admin.js';

export interface ScratchDatabases {
  url(name: string): string;
  /** Runs SQL on one of them (a fresh client each call). */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    name: string,
    text: string,
    values?: unknown[],
  ): Promise<R[]>;
}

/** Empty databases on the test server for this file, by name; every pool is closed and every database dropped afterwards. */
export function useScratchDatabases(names: string[]): ScratchDatabases {
  const real = new Map(names.map((name) => [name, testDatabaseName(`_${name}`)]));
  beforeAll(async () => {
    for (const database of real.values()) await createDatabase(database);
  });
  afterAll(async () => {
    await closePools();
    for (const database of real.values()) await dropDatabase(database);
  });
  const url = (name: string) => {
    const database = real.get(name);
    if (!database) throw new Error(`no scratch database '${name}' (have: ${names.join(', ')})`);
    return urlFor(database);
  };
  return {
    url,
    async query(name, text, values) {
      const client = new pg.Client({ connectionString: url(name) });
      await client.connect();
      try {
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    },
  };
}

export interface OperatorHarness {
  /** A fresh context for one try; `overrides` replace TaskContext fields (interval, params, pull...). */
  context(overrides?: Partial<TaskContext<any>> & { abort?: AbortController }): OperatorContext;
  /** Log lines of every try so far, as 'level: message'. */
  logs: string[];
  /** Operator state as committed after successful tries (set by `commit()`). */
  state: Map<string, unknown>;
  /** Reports saved by successful tries. */
  reports: ReportOutput[];
  /** What the last context set, not yet committed: call after a successful run, as the executor does. */
  commit(): void;
}

/**
 * `connections` maps connection names to URLs, as UPDRAFT_CONN_<NAME> would. Unknown
 * names fail the way the executor's answer does.
 */
export function operatorHarness(connections: Record<string, string>, operator = 'operator'): OperatorHarness {
  const logs: string[] = [];
  const state = new Map<string, unknown>();
  const reports: ReportOutput[] = [];
  let pending: { state: Map<string, unknown>; report?: ReportOutput } = { state: new Map() };
  const log = (level: string) => (message: string) => logs.push(`${level}: ${message}`);
  return {
    logs,
    state,
    reports,
    commit() {
      for (const [k, v] of pending.state) state.set(k, v);
      if (pending.report) reports.push(pending.report);
      pending = { state: new Map() };
    },
    context(overrides = {}) {
      pending = { state: new Map() };
      const abort = overrides.abort ?? new AbortController();
      const start = new Date('2026-01-01T00:00:00Z');
      const task: TaskContext<any> = {
        dagId: 'operator_test',
        taskId: 'task',
        runId: 'manual__2026-01-01T00:00:00+00:00',
        logicalDate: start,
        interval: { start, end: new Date('2026-01-02T00:00:00Z') },
        tryNumber: 1,
        mapIndex: -1,
        maxTries: 1,
        params: {},
        conf: {},
        triggeringEvents: [],
        log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
        signal: abort.signal,
        pull: async (ref) => {
          throw new Error(`no upstream result for '${ref.id}' in this harness`);
        },
        ...overrides,
      };
      return {
        task,
        async connection(name, field) {
          const url = connections[name];
          if (!url)
            throw new OperatorError(
              operator,
              field,
              `unknown connection '${name}': set UPDRAFT_CONN_${name.toUpperCase()}=postgres://...`,
            );
          return poolFor(name, url);
        },
        state: {
          get: async (key) => state.get(key) ?? null,
          set: (key, value) => void pending.state.set(key, value),
        },
        saveReport: (report) => {
          pending.report = report;
        },
      };
    },
  };
}
