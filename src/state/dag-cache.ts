import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import type { Tx } from '../db/execute.js';
import { dags, dagVersions } from '../db/schema.js';
import type { TaskSettings } from '../dag/options.js';
import type { CallbackEvent } from '../dag/callbacks.js';
import { taskSettings, type SerializedDag } from '../dag/serialize.js';
import { NotFoundError } from '../errors.js';
import type { TaskDeps } from './run-state.js';
import type { MapConfig } from '../dag/mapping.js';
import { buildGraph, type TaskGraph } from '../dag/graph.js';

export interface TaskNode extends TaskSettings {
  id: string;
  operator: string;
  /** Dataset URIs a success of this task updates (docs/datasets.md); usually empty. */
  outlets: readonly string[];
  upstream: string[];
  downstream: string[];
  /** Which callbacks the task has (docs/callbacks.md); absent: none. */
  callbacks?: readonly CallbackEvent[];
  /** A mapped task (t.map): what it maps over. */
  mapped?: MapConfig;
}

/**
 * One stored DAG version, shaped for the scheduler: the version's task graph (graphology),
 * and read from it once, the adjacency both ways (the arrays the hot paths read per task:
 * ready-task evaluation, the deadlock check), leaves and roots.
 */
export interface DagStructure {
  versionId: string;
  /** Content hash of the version: workers import the file with it to get this code. */
  hash: string;
  dagRowId: string;
  dagId: string;
  /** Relative to the DAGs folder. */
  file: string;
  serialized: SerializedDag;
  /**
   * The version's task graph (src/dag/graph.ts), built once per version with its
   * structure: every task's upstream and downstream tasks come from it, and so do
   * evaluateRun's order, clear's upstream and downstream tasks, the UI's grid order and
   * graph layers.
   */
  readonly graph: TaskGraph;
  tasks: Map<string, TaskNode>;
  roots: string[];
  leaves: Set<string>;
  /** For runState's deadlock check. */
  deps: Map<string, TaskDeps>;
}

const NO_OUTLETS: readonly string[] = Object.freeze([]);

/** A stored version as read: what a structure is shaped from. */
export type StoredVersion = Pick<DagStructure, 'versionId' | 'hash' | 'dagRowId' | 'dagId' | 'file' | 'serialized'>;

/** Shapes a stored version for the scheduler: its task graph, and each task's settings and neighbours. */
export function structureOf(row: StoredVersion): DagStructure {
  const { serialized } = row;
  const tasks = new Map<string, TaskNode>();
  for (const t of serialized.tasks) {
    tasks.set(t.id, {
      ...taskSettings(serialized, t),
      id: t.id,
      operator: t.operator,
      outlets: t.outlets ?? NO_OUTLETS,
      upstream: [],
      downstream: [],
      ...(t.callbacks ? { callbacks: t.callbacks } : {}),
      ...(t.operator === 'map' ? { mapped: t.config as MapConfig } : {}),
    });
  }
  const upstreamOf = new Map<string, string[]>();
  for (const [up, down] of serialized.edges) {
    const ups = upstreamOf.get(down);
    if (ups) ups.push(up);
    else upstreamOf.set(down, [up]);
  }
  const graph = buildGraph(tasks.keys(), (id) => upstreamOf.get(id) ?? []);
  for (const task of tasks.values()) {
    task.upstream = graph.inNeighbors(task.id);
    task.downstream = graph.outNeighbors(task.id);
  }
  const nodes = [...tasks.values()];
  return {
    ...row,
    graph,
    tasks,
    roots: nodes.filter((t) => t.upstream.length === 0).map((t) => t.id),
    leaves: new Set(nodes.filter((t) => t.downstream.length === 0).map((t) => t.id)),
    deps: new Map(nodes.map((t) => [t.id, { upstream: t.upstream, triggerRule: t.triggerRule }])),
  };
}

const MAX_ENTRIES = 512;

/** Stored DAG versions never change, so each is read and shaped once per process. */
export class DagCache {
  readonly #ready = new Map<string, DagStructure>();
  readonly #loading = new Map<string, Promise<DagStructure>>();

  constructor(private readonly db: Db) {}

  /**
   * The version's structure. Inside a transaction pass it as `tx`: the read then goes
   * through it and never waits on a read outside it, which on PGlite (one connection)
   * would wait for the transaction to end: a deadlock on the first run of every version.
   */
  /** The version's structure if this process has it already. */
  peek(versionId: string): DagStructure | undefined {
    return this.#ready.get(versionId);
  }

  get(versionId: string, tx?: Tx): Promise<DagStructure> {
    const ready = this.#ready.get(versionId);
    if (ready) return Promise.resolve(ready);
    if (tx) return this.load(versionId, tx);
    let loading = this.#loading.get(versionId);
    if (!loading) {
      loading = this.load(versionId, this.db).finally(() => this.#loading.delete(versionId));
      this.#loading.set(versionId, loading);
    }
    return loading;
  }

  private async load(versionId: string, via: Db | Tx): Promise<DagStructure> {
    const [row] = await via
      .select({
        versionId: dagVersions.id,
        hash: dagVersions.hash,
        serialized: dagVersions.serialized,
        dagRowId: dags.id,
        dagId: dags.dagId,
        file: dags.file,
      })
      .from(dagVersions)
      .innerJoin(dags, eq(dags.id, dagVersions.dagId))
      .where(eq(dagVersions.id, versionId));
    if (!row) throw new NotFoundError(`no stored DAG version ${versionId}`);
    const known = this.#ready.get(versionId);
    if (known) return known;
    if (this.#ready.size >= MAX_ENTRIES) this.#ready.delete(this.#ready.keys().next().value!);
    const structure = structureOf({ ...row, serialized: row.serialized as SerializedDag });
    this.#ready.set(versionId, structure);
    return structure;
  }
}
