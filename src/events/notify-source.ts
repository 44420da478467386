/**
 * A NOTIFY channel of a named connection: each notification is an event, its payload the
 * run's conf. One scheduler listens at a time: the listener holds a session advisory lock
 * in the source database on its own connection, and the others try again every few
 * seconds (a listener that dies drops the lock with its connection). Notifications sent
 * while nobody listens, or while the DAG is paused, are lost: that is NOTIFY's nature
 * (use the queue form when every event counts).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { describeDatabaseError } from '../db/errors.js';
import { quoteIdent } from '../db/quote.js';
import { batchRule } from '../dag/events.js';
import { Batcher } from './batching.js';
import { confOf, EventSource, type SourceContext } from './source.js';
import type { SourceEvent } from './start-run.js';

/** How often a scheduler that is not the listener checks whether the listener is gone. */
const STANDBY_MS = 5_000;

export class NotifySource extends EventSource {
  #client: pg.Client | undefined;
  #buffer: SourceEvent[] = [];
  readonly #batcher = new Batcher(batchRule(this.ctx.spec), () => this.flush());

  constructor(ctx: SourceContext) {
    super(ctx);
  }

  private get source() {
    const s = this.ctx.spec.source;
    if (s.kind !== 'notify') throw new Error('not a notify source');
    return s;
  }

  protected async open(): Promise<void> {
    const client = await this.connect('updraft-events');
    this.#client = client;
    const lock = lockKey(`notify:${this.ctx.dagId}`);
    const { rows } = await client.query<{ held: boolean }>('select pg_try_advisory_lock($1) as held', [lock]);
    if (!rows[0]?.held) {
      // Another scheduler listens: stand by, and look again.
      this.#client = undefined;
      await client.end().catch(() => {});
      throw new Standby();
    }
    client.on('notification', (message) => {
      if (message.channel === this.source.channel) this.receive(message.payload ?? '');
    });
    const dropped = (error?: Error) => {
      if (this.#client !== client || this.stopped) return;
      this.#client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      this.fail(
        new Error(
          `lost the connection (${error?.message ?? 'closed'}): notifications sent until it is back are lost; reconnecting`,
        ),
        true,
      );
      this.retryLater();
    };
    client.on('error', dropped);
    client.on('end', () => dropped());
    await client.query(`listen ${quoteIdent([this.source.channel])}`);
  }

  protected async close(): Promise<void> {
    this.flush();
    const client = this.#client;
    this.#client = undefined;
    client?.removeAllListeners('notification');
    await client?.end().catch(() => {});
  }

  protected override fail(error: unknown, warning = false): void {
    if (error instanceof Standby) return;
    super.fail(error, warning);
  }

  private receive(payload: string): void {
    const conf = confOf(payload);
    const field = this.source.dedupeKey;
    const value = field === null ? undefined : conf[field];
    const event: SourceEvent = {
      conf,
      key:
        value === undefined || value === null
          ? null
          : `notify:${typeof value === 'string' ? value : JSON.stringify(value)}`,
    };
    if (this.ctx.spec.debounceMs === null) return void this.send([event], false);
    this.#buffer.push(event);
    this.#batcher.arrived();
    if (this.#batcher.due(this.#buffer.length)) this.flush();
  }

  /** Hands the pending events over (due by batching.ts, or the source stops). */
  private flush(): void {
    this.#batcher.taken(false);
    if (this.#buffer.length === 0) return;
    const events = this.#buffer;
    this.#buffer = [];
    this.send(events, true);
  }

  private send(events: SourceEvent[], batch: boolean): void {
    this.hand(events, { batch }).catch((error: unknown) =>
      this.fail(
        new Error(
          `could not start a run for ${events.length} event(s), which are lost: ${describeDatabaseError(error) ?? (error as Error).message}`,
        ),
      ),
    );
  }
}

/** Not the listener: another scheduler is. Retried without a message. */
class Standby extends Error {
  readonly retryMs = STANDBY_MS;
}

/** A stable 64-bit advisory lock key for a name. */
export function lockKey(name: string): string {
  return BigInt.asIntN(
    64,
    BigInt(`0x${createHash('sha256').update(`updraft_events:${name}`).digest('hex').slice(0, 16)}`),
  ).toString();
}
