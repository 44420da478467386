/**
 * GET /metrics in Prometheus' text format. Two kinds of figures:
 * - what the database holds now (runs and task instances that are not finished,
 *   queue depth, pool slots), read at scrape time in one statement over the partial
 *   indexes, so a long history costs nothing;
 * - what this process did (task instances and runs it finished, scheduling delay of
 *   the tries it started), counted from its engine's events since it started.
 * Every process serving HTTP exports its own; the database figures are the same in all.
 */
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { execute } from '../db/execute.js';
import { UNFINISHED_SQL } from '../db/sql/finish-run.js';
import type { Engine } from '../engine/engine.js';
import { TRY_END_STATES } from '../state/vocabulary.js';

interface Row extends Record<string, unknown> {
  kind: 'run' | 'task' | 'queue' | 'pool_used' | 'pool_slots';
  label: string;
  n: number;
}

// Ends of tries (an up_for_reschedule is the end of one poke of a reschedule-mode sensor).
const FINISHED_TASK_STATES: ReadonlySet<string> = new Set(TRY_END_STATES);

export function metricsRoutes(engine: Engine): Hono {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'updraft_' });

  const runs = new Gauge({
    name: 'updraft_dag_runs',
    help: 'DAG runs that are not finished, by state',
    labelNames: ['state'],
    registers: [registry],
  });
  const tasks = new Gauge({
    name: 'updraft_task_instances',
    help: 'Task instances that are not finished, by state ("none": not yet considered)',
    labelNames: ['state'],
    registers: [registry],
  });
  const queues = new Gauge({
    name: 'updraft_queue_depth',
    help: 'Task instances ready to run and not yet claimed, by queue',
    labelNames: ['queue'],
    registers: [registry],
  });
  const poolUsed = new Gauge({
    name: 'updraft_pool_used_slots',
    help: 'Slots in use (queued or running task instances), by pool',
    labelNames: ['pool'],
    registers: [registry],
  });
  const poolSlots = new Gauge({
    name: 'updraft_pool_slots',
    help: 'Slots of each pool',
    labelNames: ['pool'],
    registers: [registry],
  });
  const up = new Gauge({
    name: 'updraft_database_up',
    help: '1 when the last scrape could read the database, else 0',
    registers: [registry],
  });

  const finishedTasks = new Counter({
    name: 'updraft_task_instances_finished_total',
    help: 'Tries this process saw end, by state',
    labelNames: ['state'],
    registers: [registry],
  });
  const finishedRuns = new Counter({
    name: 'updraft_dag_runs_finished_total',
    help: 'Runs this process saw end, by state',
    labelNames: ['state'],
    registers: [registry],
  });
  const delay = new Histogram({
    name: 'updraft_task_scheduling_delay_seconds',
    help: 'From a task instance becoming ready (scheduled) to its try starting in a task thread, for tries this process started',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });

  engine.bus.on('task:state', (change) => {
    if (FINISHED_TASK_STATES.has(change.state ?? '')) finishedTasks.inc({ state: change.state! });
    if (change.state === 'running' && change.scheduledAt)
      delay.observe(Math.max(0, Date.now() - change.scheduledAt.getTime()) / 1000);
  });
  engine.bus.on('run:finished', ({ state }) => finishedRuns.inc({ state }));

  const app = new Hono();
  app.get('/metrics', async (c) => {
    try {
      const { rows } = await execute<Row>(
        engine.database.db,
        sql`select 'run' as kind, state::text as label, count(*)::int as n from dag_runs where state in ('queued', 'running') group by state
            union all
            select 'task', coalesce(state::text, 'none'), count(*)::int from task_instances
             where ${UNFINISHED_SQL} group by state
            union all
            select 'queue', queue, count(*)::int from task_instances where state = 'scheduled' group by queue
            union all
            select 'pool_used', pool, count(*)::int from task_instances where state in ('queued', 'running') group by pool
            union all
            select 'pool_slots', name, slots from pools`,
      );
      for (const gauge of [runs, tasks, queues, poolUsed, poolSlots]) gauge.reset();
      // Zeros for the states with nothing in them: a series that disappears reads as "no data".
      for (const state of ['queued', 'running']) runs.set({ state }, 0);
      for (const state of ['none', 'scheduled', 'queued', 'running', 'up_for_retry', 'up_for_reschedule'])
        tasks.set({ state }, 0);
      for (const { kind, label, n } of rows) {
        if (kind === 'run') runs.set({ state: label }, n);
        else if (kind === 'task') tasks.set({ state: label }, n);
        else if (kind === 'queue') queues.set({ queue: label }, n);
        else if (kind === 'pool_used') poolUsed.set({ pool: label }, n);
        else poolSlots.set({ pool: label }, n);
      }
      up.set(1);
    } catch {
      // The process figures still count; /health says what is wrong with the database.
      up.set(0);
    }
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
  return app;
}
