/**
 * The DAG page's graph tab: tasks laid out left to right in layers (a task's layer is the
 * longest path to it from a root), edges as curves with arrows, each node's border in the
 * state its task has in the chosen run. Layers and order come from the version's task
 * graph (graphology, cached with the version).
 */
import { declarationOrder, taskLayers, type TaskGraph } from '../../../dag/graph.js';
import type { SerializedDag } from '../../../dag/serialize.js';
import { STATE_COLOURS } from '../style.js';
import { enc } from './kit.js';

export interface GraphNode {
  id: string;
  operator: string;
  layer: number;
  x: number;
  y: number;
}

export interface GraphLayout {
  nodes: GraphNode[];
  edges: { from: GraphNode; to: GraphNode }[];
  width: number;
  height: number;
  nodeWidth: number;
}

const NODE_HEIGHT = 44;
const GAP_X = 56;
const GAP_Y = 16;
const PAD = 12;

/** Positions of every node: layers by longest path from the roots, ordered in a layer by their upstreams' mean position. */
export function layoutGraph(dag: Pick<SerializedDag, 'tasks'>, graph: TaskGraph): GraphLayout {
  const order = declarationOrder(graph);
  const position = new Map(order.map((id, i) => [id, i]));
  const operatorOf = new Map(dag.tasks.map((t) => [t.id, t.operator]));
  const layers = taskLayers(graph);
  // One barycentre pass, left to right, reduces crossings for the usual fan-out/fan-in shapes.
  const rank = new Map<string, number>();
  for (const layer of layers) {
    const key = (id: string) => {
      const ups = graph.inNeighbors(id);
      return ups.length === 0 ? position.get(id)! : ups.reduce((sum, u) => sum + rank.get(u)!, 0) / ups.length;
    };
    const keys = new Map(layer.map((id) => [id, key(id)]));
    layer.sort((a, b) => keys.get(a)! - keys.get(b)! || position.get(a)! - position.get(b)!);
    for (const [i, id] of layer.entries()) rank.set(id, i);
  }
  const longest = Math.max(8, ...order.map((id) => Math.max(id.length, (operatorOf.get(id) ?? '').length)));
  const nodeWidth = Math.min(260, Math.max(120, Math.round(longest * 7.4) + 24));
  const tallest = Math.max(1, ...layers.map((l) => l.length));
  const height = PAD * 2 + tallest * NODE_HEIGHT + (tallest - 1) * GAP_Y;
  const byId = new Map<string, GraphNode>();
  layers.forEach((layer, l) => {
    const layerHeight = layer.length * NODE_HEIGHT + (layer.length - 1) * GAP_Y;
    const top = (height - layerHeight) / 2;
    layer.forEach((id, i) => {
      byId.set(id, {
        id,
        operator: operatorOf.get(id) ?? 'task',
        layer: l,
        x: PAD + l * (nodeWidth + GAP_X),
        y: top + i * (NODE_HEIGHT + GAP_Y),
      });
    });
  });
  const nodes = order.map((id) => byId.get(id)!);
  const edges = graph.mapEdges((_edge, _attributes, from, to) => ({ from: byId.get(from)!, to: byId.get(to)! }));
  const width = PAD * 2 + Math.max(1, layers.length) * nodeWidth + Math.max(0, layers.length - 1) * GAP_X;
  return { nodes, edges, width, height, nodeWidth };
}

export interface GraphProps {
  dagId: string;
  dag: Pick<SerializedDag, 'tasks'>;
  /** The version's task graph. */
  graph: TaskGraph;
  /** The chosen run's id and its task states by task id; undefined when the DAG has no run yet. */
  run?: { runId: string; states: Map<string, { state: string | null; tryNumber: number }> };
}

/** The graph as an inline SVG; a node links to its task instance in the chosen run. */
export function DagGraph({ dagId, dag, graph, run }: GraphProps) {
  const g = layoutGraph(dag, graph);
  if (g.nodes.length === 0) return <p class="muted">This DAG has no tasks.</p>;
  const w = g.nodeWidth;
  return (
    <svg
      class="dag-graph"
      width={g.width}
      height={g.height}
      viewBox={`0 0 ${g.width} ${g.height}`}
      role="img"
      aria-label={`graph of ${dagId}`}
    >
      <defs>
        <marker
          id="dag-arrow"
          viewBox="0 0 10 10"
          refX="10"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M0,0 L10,5 L0,10 z" fill="#8a94a3" />
        </marker>
      </defs>
      {g.edges.map(({ from, to }) => {
        const x1 = from.x + w;
        const y1 = from.y + NODE_HEIGHT / 2;
        const x2 = to.x;
        const y2 = to.y + NODE_HEIGHT / 2;
        const dx = Math.max(20, (x2 - x1) / 2);
        return (
          <path
            class="edge"
            data-edge={`${from.id}->${to.id}`}
            d={`M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`}
            fill="none"
            stroke="#8a94a3"
            stroke-width="1.4"
            marker-end="url(#dag-arrow)"
          />
        );
      })}
      {g.nodes.map((node) => {
        const ti = run?.states.get(node.id);
        const state = ti?.state ?? 'none';
        const box = (
          <g class="node" data-task={node.id} data-state={state}>
            <title>{`${node.id} (${node.operator}): ${state}${ti && ti.tryNumber > 0 ? `, try ${ti.tryNumber}` : ''}`}</title>
            <rect
              x={node.x}
              y={node.y}
              width={w}
              height={NODE_HEIGHT}
              rx="6"
              fill="#fff"
              stroke={STATE_COLOURS[state] === STATE_COLOURS.none ? '#c0c6cf' : (STATE_COLOURS[state] ?? '#c0c6cf')}
              stroke-width="3"
            />
            <text x={node.x + 10} y={node.y + 19} font-size="13" font-weight="600" fill="#1d2430">
              {node.id}
            </text>
            <text x={node.x + 10} y={node.y + 35} font-size="11" fill="#6b7685">
              {node.operator}
            </text>
          </g>
        );
        return run ? <a href={`/ui/dags/${enc(dagId)}/runs/${enc(run.runId)}/tasks/${enc(node.id)}`}>{box}</a> : box;
      })}
    </svg>
  );
}
