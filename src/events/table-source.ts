/**
 * New rows in a table of a named connection, in two forms (docs/event-triggers.md):
 *
 * - queue: Updraft creates, in the source database and idempotently, a queue table and an
 *   AFTER INSERT trigger on the watched table that copies each new row (to_jsonb(NEW))
 *   into it and NOTIFYs. Rows are claimed with FOR UPDATE SKIP LOCKED (any number of
 *   schedulers), the run is created in the Updraft database with the rows' ids as dedupe
 *   keys and committed, and only then are the rows deleted. A crash in between leaves
 *   rows whose keys are stored: taken again, they start nothing and are deleted. Rows
 *   inserted while Updraft is down or the DAG is paused wait in the queue.
 * - watermark: polls `column > last value` in order; the value is kept in the Updraft
 *   database in the transaction that creates the run.
 *
 * Without batching each row starts its own run; with `debounce` or `maxBatch` one run
 * takes up to maxBatch rows as `{ events: [...] }`, when batching.ts says the batch is due.
 */
import type pg from 'pg';
import { eq } from 'drizzle-orm';
import { eventWatermarks, dags } from '../db/schema.js';
import { quoteIdent } from '../db/quote.js';
import { batchRule } from '../dag/events.js';
import { Batcher } from './batching.js';
import { lockKey } from './notify-source.js';
import { EventSource } from './source.js';
import type { SourceEvent } from './start-run.js';

/** The channel the queue trigger notifies, payload the DAG id. */
export const QUEUE_CHANNEL = 'updraft_event_queue';
/** Rows taken per transaction when each row starts its own run. */
const ROWS_PER_PASS = 100;

abstract class TableSource extends EventSource {
  protected client: pg.Client | undefined;
  #poll: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #again = false;
  /** When waiting rows are due (the queue form; a watermark's poll is its batching window). */
  protected readonly batcher = new Batcher(batchRule(this.ctx.spec), () => this.wake(false));

  protected abstract get pollMs(): number;
  /** Sets the source up on a fresh client. */
  protected abstract prepare(client: pg.Client): Promise<void>;
  /** Takes what waits, up to `limit` rows, and starts runs; returns the number of rows taken. */
  protected abstract take(client: pg.Client, limit: number): Promise<number>;

  protected async open(): Promise<void> {
    const client = await this.connect('updraft-events');
    this.client = client;
    const dropped = (error?: Error) => {
      if (this.client !== client || this.stopped) return;
      this.client = undefined;
      clearInterval(this.#poll);
      void client.end().catch(() => {});
      this.fail(new Error(`lost the connection (${error?.message ?? 'closed'}); reconnecting`), true);
      this.retryLater();
    };
    client.on('error', dropped);
    client.on('end', () => dropped());
    await this.prepare(client);
    this.#poll = setInterval(() => this.wake(false), this.pollMs);
    // What landed while nobody looked (Updraft down, the DAG paused) is taken now.
    this.wake(false);
  }

  protected async close(): Promise<void> {
    clearInterval(this.#poll);
    this.batcher.stop();
    const client = this.client;
    this.client = undefined;
    await this.#draining?.catch(() => {});
    await client?.end().catch(() => {});
  }

  /** A notification, the poll (the safety net) or a batch due by time: take what is due. */
  protected wake(notified: boolean): void {
    if (notified) this.batcher.arrived();
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.drain().finally(() => {
      this.#draining = undefined;
      if (this.#again && !this.stopped) {
        this.#again = false;
        this.wake(false);
      }
    });
  }

  private async drain(): Promise<void> {
    const limit = this.ctx.spec.maxBatch ?? ROWS_PER_PASS;
    try {
      // Keep taking while full passes come back.
      while (!this.stopped && this.client) {
        if ((await this.take(this.client, limit)) < limit) break;
      }
      this.ok();
    } catch (error) {
      if (!this.stopped) this.fail(error);
    }
  }

  protected get batch(): boolean {
    return this.ctx.spec.maxBatch !== null;
  }

  /** The rows as events, grouped into runs: one per row, or one per batch. */
  protected groups(events: SourceEvent[]): SourceEvent[][] {
    return this.batch ? (events.length > 0 ? [events] : []) : events.map((e) => [e]);
  }
}

export class QueueSource extends TableSource {
  #queue = '';

  private get source() {
    const s = this.ctx.spec.source;
    if (s.kind !== 'queue') throw new Error('not a queue source');
    return s;
  }

  protected get pollMs(): number {
    return this.source.pollMs;
  }

  protected async prepare(client: pg.Client): Promise<void> {
    const { table, queueTable } = this.source;
    // The watched table must exist; its schema holds the queue table.
    const found = await client
      .query<{ schema: string; name: string }>(
        'select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass($1)',
        [quoteIdent(table)],
      )
      .then((r) => r.rows[0]);
    if (!found) throw new Error(`table ${table} does not exist in connection '${this.ctx.spec.conn}'`);
    this.#queue = quoteIdent([found.schema, queueTable]);
    const watched = quoteIdent([found.schema, found.name]);
    const fn = quoteIdent([found.schema, 'updraft_enqueue_event']);
    const trigger = `updraft_ev_${lockKey(this.ctx.dagId).replace('-', 'n')}`.slice(0, 63);
    await client.query('begin');
    try {
      // Several schedulers may set up at once: one at a time.
      await client.query('select pg_advisory_xact_lock($1)', [lockKey('queue-setup')]);
      await client.query(`create table if not exists ${this.#queue} (
        id bigint generated always as identity primary key,
        dag_id text not null,
        source_table text not null,
        row jsonb not null,
        enqueued_at timestamptz not null default now())`);
      await client.query(
        `create index if not exists ${quoteIdent([`${queueTable}_dag_id_idx`.slice(0, 63)])} on ${this.#queue} (dag_id, id)`,
      );
      // Arguments: DAG id, queue schema, queue table. Trigger arguments are literals in DDL (no parameters there).
      await client.query(`create or replace function ${fn}() returns trigger language plpgsql as $fn$
        begin
          execute format('insert into %I.%I (dag_id, source_table, row) values ($1, $2, $3)', tg_argv[1], tg_argv[2])
            using tg_argv[0], tg_table_schema || '.' || tg_table_name, to_jsonb(new);
          perform pg_notify('${QUEUE_CHANNEL}', tg_argv[0]);
          return null;
        end $fn$`);
      const exists = await client.query('select 1 from pg_trigger where tgrelid = to_regclass($1) and tgname = $2', [
        watched,
        trigger,
      ]);
      if (exists.rowCount === 0) {
        const args = [this.ctx.dagId, found.schema, queueTable].map((a) => client.escapeLiteral(a)).join(', ');
        await client.query(
          `create trigger ${quoteIdent([trigger])} after insert on ${watched} for each row execute function ${fn}(${args})`,
        );
      }
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw new Error(`could not set up the queue of ${table}: ${(error as Error).message}`, { cause: error });
    }
    client.on('notification', (message) => {
      if (message.channel === QUEUE_CHANNEL && message.payload === this.ctx.dagId) this.wake(true);
    });
    await client.query(`listen ${quoteIdent([QUEUE_CHANNEL])}`);
  }

  protected async take(client: pg.Client, limit: number): Promise<number> {
    await client.query('begin');
    try {
      const { rows } = await client.query<{ id: string; row: Record<string, unknown>; at: string }>(
        // q.id: a bare `order by id` would sort by the text output column (10 before 2).
        `select q.id::text as id, q.row, (extract(epoch from q.enqueued_at) * 1000000)::bigint::text as at
           from ${this.#queue} q where q.dag_id = $1 order by q.id limit $2 for update of q skip locked`,
        [this.ctx.dagId, limit],
      );
      // Taking the rows is also how they are counted: a batch that is not due yet (not full,
      // events still arriving within the debounce and the maximum wait) stays queued.
      if (rows.length === 0 || !this.batcher.due(rows.length)) {
        if (rows.length === 0) this.batcher.taken(false);
        await client.query('commit');
        return 0;
      }
      // The enqueue time in the key: a queue table dropped and made again restarts its ids.
      const events = rows.map((r) => ({ conf: r.row, key: `queue:${r.id}:${r.at}` }));
      const done: string[] = [];
      for (const group of this.groups(events)) {
        const outcome = await this.hand(group, { batch: this.batch });
        // Paused or gone: the rows wait in the queue.
        if (outcome.kind === 'inactive') break;
        done.push(...group.map((e) => e.key!.split(':')[1]!));
      }
      if (done.length > 0) await client.query(`delete from ${this.#queue} where id = any($1::bigint[])`, [done]);
      await client.query('commit');
      this.batcher.taken(done.length < rows.length || rows.length === limit);
      return done.length === rows.length ? rows.length : 0;
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    }
  }
}

export class WatermarkSource extends TableSource {
  #watermark: string | null = null;

  private get source() {
    const s = this.ctx.spec.source;
    if (s.kind !== 'watermark') throw new Error('not a watermark source');
    return s;
  }

  protected get pollMs(): number {
    return this.source.pollMs;
  }

  /** What the stored watermark belongs to: a DAG that watches another table or column starts over. */
  private get signature(): string {
    return `${this.ctx.spec.conn}:${this.source.table}:${this.source.column}`;
  }

  protected async prepare(client: pg.Client): Promise<void> {
    const { table, column } = this.source;
    const { db } = this.ctx;
    const [stored] = await db
      .select({ source: eventWatermarks.source, value: eventWatermarks.value, dagRowId: dags.id })
      .from(dags)
      .leftJoin(eventWatermarks, eq(eventWatermarks.dagId, dags.id))
      .where(eq(dags.dagId, this.ctx.dagId));
    if (!stored) throw new Error('the DAG is not stored');
    let max: string | null;
    try {
      max = (
        await client.query<{ max: string | null }>(
          `select max(${quoteIdent([column])})::text as max from ${quoteIdent(table)}`,
        )
      ).rows[0]!.max;
    } catch (error) {
      throw new Error(`cannot read ${table}.${column}: ${(error as Error).message}`, { cause: error });
    }
    if (stored.source === this.signature) {
      this.#watermark = stored.value;
      return;
    }
    // First sight: rows already there are not new. Only rows after the current maximum start runs.
    this.#watermark = max;
    await db
      .insert(eventWatermarks)
      .values({ dagId: stored.dagRowId, source: this.signature, value: max })
      .onConflictDoUpdate({ target: eventWatermarks.dagId, set: { source: this.signature, value: max } });
  }

  protected async take(client: pg.Client, limit: number): Promise<number> {
    const { table, column } = this.source;
    const col = `t.${quoteIdent([column])}`;
    const where = this.#watermark === null ? '' : `where ${col} > $2`;
    const values: unknown[] = this.#watermark === null ? [limit] : [limit, this.#watermark];
    const { rows } = await client.query<{ row: Record<string, unknown>; mark: string }>(
      `select to_jsonb(t) as row, ${col}::text as mark from ${quoteIdent(table)} t ${where} order by ${col} limit $1`,
      values,
    );
    const events = rows.map((r) => ({ conf: r.row, key: `watermark:${r.mark}`, mark: r.mark }));
    for (const group of this.groups(events)) {
      const mark = (group.at(-1) as (typeof events)[number]).mark;
      const outcome = await this.hand(
        group.map(({ conf, key }) => ({ conf, key })),
        { batch: this.batch, watermark: { source: this.signature, value: mark } },
      );
      if (outcome.kind === 'inactive') return 0;
      this.#watermark = mark;
    }
    return rows.length;
  }
}
