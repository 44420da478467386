/**
 * The task graph of a DAG as a graphology DirectedGraph: one node per task id (in the
 * order the file declares them), an edge from each upstream task to its downstream.
 * The DAG builder validates it (cycles) and the scheduler keeps one per stored DAG
 * version (src/state/dag-cache.ts); what reads an order, layers or the tasks
 * upstream or downstream of others reads it through the functions here, which use
 * graphology-dag's traversals.
 */
import { DirectedGraph } from 'graphology';
import { forEachNodeInTopologicalOrder, hasCycle, topologicalGenerations, topologicalSort } from 'graphology-dag';

/** A DAG's task graph (graphology). Read-only once built: its orders are memoised. */
export type TaskGraph = DirectedGraph;

/**
 * Every node's and edge's attributes: the graph carries none, and one shared object
 * instead of one per node and edge is a fifth less of the build's time on a
 * 10,000-task DAG. Frozen, so that setting an attribute throws instead of reaching
 * every node.
 */
const NO_ATTRIBUTES = Object.freeze({});

/**
 * Builds the task graph: a node per task id, in the order given, and an edge from each
 * of `upstreamOf(id)` to the task (each pair once, references known to exist: the
 * builder and the stored version guarantee both). addDirectedEdge, not merge: no
 * lookup per edge.
 */
export function buildGraph(taskIds: Iterable<string>, upstreamOf: (id: string) => Iterable<string>): TaskGraph {
  const graph = new DirectedGraph({ allowSelfLoops: false });
  const ids = [...taskIds];
  for (const id of ids) graph.addNode(id, NO_ATTRIBUTES);
  for (const id of ids) for (const up of upstreamOf(id)) graph.addDirectedEdge(up, id, NO_ATTRIBUTES);
  return graph;
}

/**
 * One dependency cycle as task ids in dependency order (the first repeated at the
 * end), or null when there is none, for the error that names it. graphology-dag's
 * hasCycle decides; only a cyclic graph is searched for the cycle to show.
 */
export function findCycle(graph: TaskGraph): string[] | null {
  if (!hasCycle(graph)) return null;
  // Kahn's sort stops at the tasks on or downstream of a cycle: each of them has an
  // upstream task among them, so walking upstream through them must come round.
  const sorted = new Set<string>();
  try {
    forEachNodeInTopologicalOrder(graph, (node) => {
      sorted.add(node);
    });
  } catch {
    // It throws once it finds the graph cyclic; `sorted` holds what it could order.
  }
  const stuck = graph.findNode((node) => !sorted.has(node))!;
  const path: string[] = [];
  const onPath = new Map<string, number>();
  let node = stuck;
  while (!onPath.has(node)) {
    onPath.set(node, path.length);
    path.push(node);
    node = graph.findInNeighbor(node, (up) => !sorted.has(up))!;
  }
  // path runs downstream -> upstream; report it in dependency order.
  return [node, ...path.slice(onPath.get(node)).reverse()];
}

const orders = new WeakMap<TaskGraph, string[]>();

/**
 * The task ids, every task after its upstream tasks (graphology-dag's topologicalSort),
 * computed once per graph: the graph of a stored version never changes.
 */
export function topologicalOrder(graph: TaskGraph): string[] {
  let order = orders.get(graph);
  if (!order) {
    order = topologicalSort(graph);
    orders.set(graph, order);
  }
  return order;
}

/** The tasks in layers: a task's layer is the longest path to it from a root (graphology-dag's generations). */
export function taskLayers(graph: TaskGraph): string[][] {
  return topologicalGenerations(graph);
}

/** `ids` and every task downstream of them, transitively. */
export function withDownstream(graph: TaskGraph, ids: Iterable<string>): Set<string> {
  const result = new Set(ids);
  for (const id of topologicalOrder(graph))
    if (!result.has(id) && graph.someInNeighbor(id, (up) => result.has(up))) result.add(id);
  return result;
}

/** `ids` and every task upstream of them, transitively. */
export function withUpstream(graph: TaskGraph, ids: Iterable<string>): Set<string> {
  const result = new Set(ids);
  const order = topologicalOrder(graph);
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i]!;
    if (!result.has(id) && graph.someOutNeighbor(id, (down) => result.has(down))) result.add(id);
  }
  return result;
}

/**
 * The task ids in a topological order that keeps the declaration order where the edges
 * allow: the earliest-declared task among those whose upstream tasks are all listed
 * comes next. For reading (the UI's grid rows): graphology-dag's sort is breadth-first
 * and would pull a chain's tasks apart.
 */
export function declarationOrder(graph: TaskGraph): string[] {
  const index = new Map<string, number>();
  const waiting = new Map<string, number>();
  const ready: string[] = [];
  graph.forEachNode((id) => {
    index.set(id, index.size);
    const degree = graph.inDegree(id);
    waiting.set(id, degree);
    if (degree === 0) ready.push(id);
  });
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => index.get(a)! - index.get(b)!);
    const id = ready.shift()!;
    order.push(id);
    graph.forEachOutNeighbor(id, (next) => {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) ready.push(next);
    });
  }
  return order;
}
