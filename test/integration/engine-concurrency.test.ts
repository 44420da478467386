/**
 * Limits on what runs at once, seen in the task instances' start and end times:
 * a DAG's maxActiveTasks, a pool's slots shared by two DAGs, and priority when
 * there is one task thread.
 */
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { pools } from '../../src/db/schema.js';
import { useEngine, type FinishedRun } from '../support/engine.js';

const nap = (id: string, options = '{}') =>
  `t.task('${id}', ${options}, async () => { await new Promise((r) => setTimeout(r, 150)); return Date.now(); });`;

// Each task says hello on a channel of its run and waits to hear the other: both end only
// if they ran at the same time, however long the second thread took to start.
const meet = (id: string) => `t.task('${id}', { timeout: '10s' }, (ctx) => new Promise((resolve) => {
    const channel = new BroadcastChannel('meet-' + ctx.runId);
    channel.onmessage = (event) => {
      if (event.data === 'hello') channel.postMessage('hello back');
      channel.close();
      resolve(Date.now());
    };
    channel.postMessage('hello');
  }));`;

const DAGS = `import { dag } from 'updraft';

export const parallel = dag({ id: 'parallel' }, (t) => {
  ${meet('p1')}
  ${meet('p2')}
});

export const one_at_a_time = dag({ id: 'one_at_a_time', maxActiveTasks: 1 }, (t) => {
  ${nap('a')}
  ${nap('b')}
  ${nap('c')}
  ${nap('d')}
});

export const pool_a = dag({ id: 'pool_a', defaults: { pool: 'single' } }, (t) => {
  ${nap('a1')}
  ${nap('a2')}
});

export const pool_b = dag({ id: 'pool_b', defaults: { pool: 'single' } }, (t) => {
  ${nap('b1')}
  ${nap('b2')}
});

export const by_priority = dag({ id: 'by_priority' }, (t) => {
  ${nap('low', '{ priority: 1 }')}
  ${nap('high', '{ priority: 10 }')}
  ${nap('middle', '{ priority: 5 }')}
  ${nap('lowest', '{ priority: -3 }')}
  ${nap('highest', '{ priority: 20 }')}
  ${nap('upper', '{ priority: 7 }')}
});
`;

interface Interval {
  task: string;
  start: number;
  end: number;
}

function intervals(...runs: FinishedRun[]): Interval[] {
  return runs
    .flatMap((run) =>
      Object.entries(run.tasks).map(([task, t]) => ({
        task,
        start: t.startedAt!.getTime(),
        end: t.endedAt!.getTime(),
      })),
    )
    .sort((a, b) => a.start - b.start);
}

/** Pairs of tasks that were running at the same time. */
function overlaps(list: Interval[]): string[] {
  const found: string[] = [];
  for (let i = 1; i < list.length; i++) {
    for (let j = 0; j < i; j++) if (list[j]!.end > list[i]!.start) found.push(`${list[j]!.task}/${list[i]!.task}`);
  }
  return found;
}

const FILES = { 'limits.ts': DAGS };

async function singleSlotPool(database: Database): Promise<void> {
  await database.db.insert(pools).values({ name: 'single', slots: 1, description: 'one task at a time' });
}

describe('with two task threads', () => {
  const setup = useEngine(FILES, { prepare: singleSlotPool });

  it('runs independent tasks side by side when nothing limits them', async () => {
    const { h } = setup();
    const run = await h.run('parallel');
    expect(run.state).toBe('success');
    expect(overlaps(intervals(run))).toHaveLength(1);
  });

  it('never runs two tasks of a DAG with maxActiveTasks 1 at once', async () => {
    const { h } = setup();
    const run = await h.run('one_at_a_time');
    expect(run.state).toBe('success');
    const list = intervals(run);
    expect(list).toHaveLength(4);
    expect(overlaps(list)).toEqual([]);
  });

  it('serialises the tasks of two DAGs sharing a pool of one slot', async () => {
    const { h } = setup();
    const [a, b] = await Promise.all([h.trigger('pool_a'), h.trigger('pool_b')]);
    const runs = await Promise.all([a!.finished, b!.finished]);
    expect(runs.map((r) => r.state)).toEqual(['success', 'success']);
    const list = intervals(...runs);
    expect(list.map((i) => i.task).sort()).toEqual(['a1', 'a2', 'b1', 'b2']);
    expect(overlaps(list)).toEqual([]);
    expect(h.errors).toEqual([]);
  });
});

describe('with one task thread', () => {
  const setup = useEngine(FILES, { env: { UPDRAFT_CONCURRENCY: '1' }, prepare: singleSlotPool });

  it('starts higher-priority tasks first', async () => {
    const { h } = setup();
    const run = await h.run('by_priority');
    expect(run.state).toBe('success');
    expect(intervals(run).map((i) => i.task)).toEqual(['highest', 'high', 'upper', 'middle', 'low', 'lowest']);
  });
});
