/**
 * The event sources of every DAG that has an `events` option, in the scheduler role:
 * started when such a DAG appears or is unpaused, restarted when its trigger changes,
 * stopped when it is paused or gone. Looked at when DAGs change (a parse stored new
 * versions, a NOTIFY on updraft_dags from a pause elsewhere), never per task or per run,
 * so DAGs without events cost nothing.
 */
import { EventEmitter } from 'node:events';
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { dags, dagVersions } from '../db/schema.js';
import type { EngineBus } from '../state/bus.js';
import type { Logger } from '../log.js';
import { NotifySource } from './notify-source.js';
import type { EventSource, TriggerBus, TriggerEvents } from './source.js';
import { describeEvents, type EventsSpec } from '../dag/events.js';
import { QueueSource, WatermarkSource } from './table-source.js';

export type SourceStatus = { state: 'starting' | 'ready' } | { state: 'failing'; message: string };

/** How often the stored DAGs are looked at besides the moments they are known to change. */
const RECONCILE_MS = 30_000;

export class EventTriggers {
  readonly events: TriggerBus = new EventEmitter<TriggerEvents>();
  #sources = new Map<string, { signature: string; source: EventSource; label: string }>();
  #status = new Map<string, SourceStatus>();
  #pass: Promise<void> = Promise.resolve();
  #stopped = false;
  #timer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly bus: EngineBus,
    log: Logger,
  ) {
    // A scheduler without the processor role hears pauses (updraft_dags) but not new versions: look now and then.
    this.#timer = setInterval(() => void this.reconcile(), RECONCILE_MS).unref();
    this.events.on('ready', ({ dagId }) => this.#status.set(dagId, { state: 'ready' }));
    this.events.on('recovered', ({ dagId }) => this.#status.set(dagId, { state: 'ready' }));
    this.events.on('problem', ({ dagId, message }) => this.#status.set(dagId, { state: 'failing', message }));
    this.events.on('problem', ({ dagId, source, message, warning }) => {
      const line = `event trigger of DAG '${dagId}' (${source}): ${message}`;
      if (warning) log.warn({ dag: dagId }, line);
      else log.error({ dag: dagId }, line);
    });
    this.events.on('recovered', ({ dagId, source }) =>
      log.info({ dag: dagId }, `event trigger of DAG '${dagId}' (${source}) works again`),
    );
    this.events.on('ready', ({ dagId, source }) =>
      log.info({ dag: dagId }, `event trigger of DAG '${dagId}' ready (${source})`),
    );
    this.events.on('outcome', ({ dagId, source, outcome }) => {
      if (outcome.kind === 'started') {
        log.info(
          { dag: dagId, run: outcome.runId },
          `event run ${outcome.runId} of ${dagId} (${outcome.events} event(s)${outcome.duplicates ? `, ${outcome.duplicates} duplicate(s) dropped` : ''})`,
        );
        // This process's scheduler starts it at once; others hear the transaction's NOTIFY.
        bus.emit('runs');
      } else if (outcome.kind === 'rejected') {
        log.error(
          { dag: dagId },
          `event trigger of DAG '${dagId}' (${source}): ${outcome.events} event(s) started no run: ${outcome.message}`,
        );
      }
    });
  }

  /** Brings the running sources in line with the stored DAGs; passes never overlap. */
  reconcile(): Promise<void> {
    this.#pass = this.#pass.then(() => this.pass()).catch((error: Error) => void this.bus.emit('error', error));
    return this.#pass;
  }

  private async pass(): Promise<void> {
    if (this.#stopped) return;
    const rows = await this.db
      .select({ dagId: dags.dagId, events: sql<EventsSpec>`${dagVersions.serialized} -> 'events'` })
      .from(dags)
      .innerJoin(dagVersions, eq(dagVersions.id, dags.latestVersionId))
      .where(
        and(
          eq(dags.isActive, true),
          eq(dags.isPaused, false),
          sql`(${dagVersions.serialized} -> 'events') is not null`,
        ),
      );
    const wanted = new Map(rows.map((r) => [r.dagId, r.events]));
    for (const [dagId, running] of this.#sources) {
      const spec = wanted.get(dagId);
      if (spec && JSON.stringify(spec) === running.signature) continue;
      this.#sources.delete(dagId);
      await running.source.stop();
      this.#status.delete(dagId);
      this.events.emit('stopped', { dagId, source: running.label });
    }
    for (const [dagId, spec] of wanted) {
      if (this.#sources.has(dagId) || this.#stopped) continue;
      const ctx = { db: this.db, dagId, spec, label: describeEvents(spec), bus: this.events };
      const source =
        spec.source.kind === 'notify'
          ? new NotifySource(ctx)
          : spec.source.kind === 'queue'
            ? new QueueSource(ctx)
            : new WatermarkSource(ctx);
      this.#sources.set(dagId, { signature: JSON.stringify(spec), source, label: ctx.label });
      source.start();
    }
  }

  /** Where a DAG's source stands in this process: undefined when it has none running here. */
  status(dagId: string): SourceStatus | undefined {
    if (!this.#sources.has(dagId)) return undefined;
    return this.#status.get(dagId) ?? { state: 'starting' };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#pass.catch(() => {});
    const all = [...this.#sources.values()];
    this.#sources.clear();
    await Promise.all(all.map((s) => s.source.stop()));
  }
}
