import { describe, expect, it } from 'vitest';
import {
  buildGraph,
  declarationOrder,
  findCycle,
  taskLayers,
  topologicalOrder,
  withDownstream,
  withUpstream,
} from '../../src/dag/graph.js';

/** The graph of task ids and [upstream, downstream] pairs. */
const graphOf = (ids: string[], edges: [string, string][]) =>
  buildGraph(ids, (id) => edges.filter(([, down]) => down === id).map(([up]) => up));

/** extract -> [clean, count]; clean -> load; count -> report; load -> report. */
const etl = () =>
  graphOf(
    ['extract', 'report', 'clean', 'count', 'load'],
    [
      ['extract', 'clean'],
      ['extract', 'count'],
      ['clean', 'load'],
      ['count', 'report'],
      ['load', 'report'],
    ],
  );

describe('the task graph', () => {
  it('finds no cycle in a DAG, and shows one with the tasks leading to and from it left out', () => {
    expect(findCycle(etl())).toBeNull();
    const graph = graphOf(
      ['start', 'a', 'b', 'c', 'end'],
      [
        ['start', 'a'],
        ['a', 'b'],
        ['b', 'c'],
        ['c', 'a'],
        ['c', 'end'],
      ],
    );
    expect(['a -> b -> c -> a', 'b -> c -> a -> b', 'c -> a -> b -> c']).toContain(findCycle(graph)!.join(' -> '));
  });

  it('orders every task after its upstream tasks, once per graph', () => {
    const graph = etl();
    const order = topologicalOrder(graph);
    for (const [, , from, to] of graph.mapEdges((...args) => args))
      expect(order.indexOf(from as string)).toBeLessThan(order.indexOf(to as string));
    expect(topologicalOrder(graph)).toBe(order);
  });

  it('keeps the declaration order where the edges allow, for reading', () => {
    expect(declarationOrder(etl())).toEqual(['extract', 'clean', 'count', 'load', 'report']);
  });

  it('layers tasks by the longest path from a root', () => {
    expect(taskLayers(etl()).map((layer) => [...layer].sort())).toEqual([
      ['extract'],
      ['clean', 'count'],
      ['load'],
      ['report'],
    ]);
  });

  it('adds the tasks downstream or upstream of others, transitively', () => {
    expect([...withDownstream(etl(), ['clean'])].sort()).toEqual(['clean', 'load', 'report']);
    expect([...withUpstream(etl(), ['load'])].sort()).toEqual(['clean', 'extract', 'load']);
    expect([...withUpstream(etl(), ['extract', 'count'])].sort()).toEqual(['count', 'extract']);
  });
});
