import { DirectedGraph } from 'graphology';
import { hasCycle } from 'graphology-dag';

/** Builds the task graph: one node per task id, an edge from each upstream task to its downstream. */
export function buildGraph(taskIds: Iterable<string>, edges: Iterable<readonly [string, string]>): DirectedGraph {
  const graph = new DirectedGraph();
  for (const id of taskIds) graph.addNode(id);
  for (const [from, to] of edges) graph.mergeEdge(from, to);
  return graph;
}

/** One dependency cycle as a list of task ids (first repeated at the end), or null when the graph is acyclic. */
export function findCycle(graph: DirectedGraph): string[] | null {
  if (!hasCycle(graph)) return null;
  // Iterative DFS with colours; the first back edge closes a cycle along the current path.
  const colour = new Map<string, 1 | 2>();
  for (const root of graph.nodes()) {
    if (colour.has(root)) continue;
    const path: string[] = [];
    const stack: { node: string; next: string[] }[] = [];
    const enter = (node: string) => {
      colour.set(node, 1);
      path.push(node);
      stack.push({ node, next: graph.outNeighbors(node) });
    };
    enter(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const child = top.next.pop();
      if (child === undefined) {
        colour.set(top.node, 2);
        path.pop();
        stack.pop();
      } else if (colour.get(child) === 1) {
        return [...path.slice(path.indexOf(child)), child];
      } else if (!colour.has(child)) {
        enter(child);
      }
    }
  }
  return null;
}
