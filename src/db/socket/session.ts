/**
 * One PGlite shared by the process that holds it (standalone) and by clients of its socket.
 *
 * PGlite is one connection. pglite-socket's own queue runs each client message under
 * `runExclusive`, which does not wait for the holder's transactions (they take another
 * mutex), so a client's statement could land inside a transaction of the server and the
 * other way round. Here a client holds PGlite's transaction mutex from its first message
 * until the backend is idle again (ReadyForQuery 'I'): a client's transaction, or one
 * extended-protocol sequence, runs alone, as a transaction of the server does.
 *
 * LISTEN/NOTIFY: notifications come out of the one backend in the output of whoever ran
 * the statement. A client's LISTEN/UNLISTEN is answered here and subscribes through
 * `pglite.listen` (an UNLISTEN run on the backend would also unsubscribe the server); a
 * client's NOTIFY is taken out of its output and re-sent in process once its transaction
 * ended, so the server's listeners (the scheduler) and LISTENing clients get it.
 */
import type { Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { quoteIdent } from '../quote.js';
import {
  commandComplete,
  listenCommand,
  notificationMessage,
  queryMessage,
  scanResponse,
  TERMINATE,
  type ListenCommand,
} from './protocol.js';

/**
 * How long one client may hold the database in a transaction: while it does, every statement
 * of the server waits, its task heartbeats too, and an executor that misses heartbeats for
 * `heartbeatTimeout - heartbeat` stops all its running tries (src/executor/leases.ts).
 * Past either limit the client is disconnected and its transaction rolled back.
 * Measured on 2 busy cores (load ~18): `dags list`/`dags trigger`/`runs list` beside
 * standalone held it 2 ms at the median, 70 ms p90, 710 ms at most (390 holds); a 30-task
 * chain ran in 3-5 s with `dags list` in a loop beside it, 4 s alone.
 */
export interface HoldLimits {
  /** Longest wait for the client's next message inside a transaction. */
  idleMs: number;
  /** Longest time from the client's first message of a transaction to its end. */
  totalMs: number;
}

/** Half the time the executor tolerates without a heartbeat, and at most 10 s idle, 20 s in all. */
export function holdLimits({
  heartbeatMs,
  heartbeatTimeoutMs,
}: {
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
}): HoldLimits {
  const half = Math.max(0, heartbeatTimeoutMs - heartbeatMs) / 2;
  return { idleMs: Math.min(10_000, half), totalMs: Math.min(20_000, half) };
}

interface Client {
  socket: Socket;
  /** Its messages, one after the other. */
  chain: Promise<unknown>;
  closed: boolean;
  listens: Map<string, () => Promise<void>>;
}

export class SharedPglite {
  readonly #pglite: PGlite;
  readonly #clients = new Map<number, Client>();
  #holder: { id: number; release: () => void } | undefined;
  #idle: NodeJS.Timeout | undefined;
  #total: NodeJS.Timeout | undefined;
  readonly #onWarning: (message: string) => void;
  readonly #limits: HoldLimits;

  constructor(pglite: PGlite, onWarning: (message: string) => void, limits: HoldLimits) {
    this.#pglite = pglite;
    this.#onWarning = onWarning;
    this.#limits = limits;
  }

  attach(id: number, socket: Socket): void {
    this.#clients.set(id, { socket, chain: Promise.resolve(), closed: false, listens: new Map() });
  }

  get size(): number {
    return this.#clients.size;
  }

  // The three methods pglite-socket's PGLiteSocketHandler calls on its queue.

  enqueue(id: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    const client = this.#clients.get(id);
    if (!client) return Promise.reject(new Error('unknown connection'));
    const run = client.chain.catch(() => {}).then(() => this.#run(id, client, message, onData));
    client.chain = run;
    return run;
  }

  clearQueueForHandler(id: number): void {
    const client = this.#clients.get(id);
    if (client) client.closed = true;
  }

  /** The connection ended: roll back what it left open, drop its subscriptions. */
  async clearTransactionIfNeeded(id: number): Promise<void> {
    const client = this.#clients.get(id);
    if (!client) return;
    client.closed = true;
    await client.chain.catch(() => {});
    if (this.#holder?.id === id) {
      try {
        if (this.#pglite.isInTransaction()) await this.#exec(queryMessage('ROLLBACK'));
      } finally {
        this.#release();
      }
    }
    const unlistens = [...client.listens.values()];
    client.listens.clear();
    this.#clients.delete(id);
    for (const unlisten of unlistens) await unlisten().catch(() => {});
  }

  /** Ends every connection (the server stops). */
  async closeAll(): Promise<void> {
    await Promise.all(
      [...this.#clients.entries()].map(([id, client]) => {
        client.socket.destroy();
        return this.clearTransactionIfNeeded(id);
      }),
    );
  }

  async #run(id: number, client: Client, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    if (client.closed) throw new Error('connection closed');
    if (message[0] === TERMINATE) {
      client.socket.end();
      return 0;
    }
    const listen = this.#holder?.id === id ? null : listenCommand(message);
    if (listen) {
      await this.#listen(client, listen);
      const reply = commandComplete(listen.command, 'I');
      onData(reply);
      return reply.length;
    }
    if (this.#holder?.id !== id) {
      const release = await this.#acquire();
      this.#holder = { id, release };
      if (client.closed) {
        this.#release();
        throw new Error('connection closed');
      }
      this.#total = this.#cutOff(client, this.#limits.totalMs, 'held the database in one transaction for');
    }
    clearTimeout(this.#idle);
    let scanned: ReturnType<typeof scanResponse>;
    try {
      scanned = scanResponse(await this.#exec(message));
    } catch (error) {
      if (this.#pglite.isInTransaction()) await this.#exec(queryMessage('ROLLBACK')).catch(() => {});
      this.#release();
      throw error;
    }
    if (scanned.output.length > 0) onData(scanned.output);
    if (scanned.status === 'I') {
      this.#release();
    } else {
      this.#idle = this.#cutOff(client, this.#limits.idleMs, 'sent no statement inside its transaction for');
    }
    if (scanned.notifications.length > 0) void this.#renotify(scanned.notifications);
    return scanned.output.length;
  }

  /** PGlite's transaction mutex, held until the returned release is called. */
  #acquire(): Promise<() => void> {
    return new Promise((resolve, reject) => {
      this.#pglite._runExclusiveTransaction(() => new Promise<void>((release) => resolve(release))).catch(reject);
    });
  }

  /** Disconnects `client` after `ms` (its transaction then rolls back, clearTransactionIfNeeded). */
  #cutOff(client: Client, ms: number, what: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#onWarning(
        `a client of the database socket ${what} ${ms / 1000}s, while the server's statements and task heartbeats wait: it was disconnected and its transaction rolled back`,
      );
      client.socket.destroy();
    }, ms);
    timer.unref();
    return timer;
  }

  #release(): void {
    clearTimeout(this.#idle);
    clearTimeout(this.#total);
    const holder = this.#holder;
    this.#holder = undefined;
    holder?.release();
  }

  /** Runs one protocol message; the response's bytes, copied (PGlite reuses its buffer). */
  async #exec(message: Uint8Array): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.#pglite.runExclusive(() =>
      this.#pglite.execProtocolRawStream(message, { onRawData: (data) => void chunks.push(Buffer.from(data)) }),
    );
    return Buffer.concat(chunks);
  }

  async #listen(client: Client, { command, channel }: ListenCommand): Promise<void> {
    if (command === 'UNLISTEN') {
      const channels = channel === '*' ? [...client.listens.keys()] : [channel];
      for (const name of channels) {
        await client.listens.get(name)?.();
        client.listens.delete(name);
      }
      return;
    }
    if (client.listens.has(channel)) return;
    const unlisten = await this.#pglite.listen(quoteIdent(channel), (payload) => {
      if (!client.closed && client.socket.writable) client.socket.write(notificationMessage(channel, payload));
    });
    client.listens.set(channel, unlisten);
  }

  /** A client's notifications, sent again in process, where the server's listeners hear them. */
  async #renotify(notifications: { channel: string; payload: string }[]): Promise<void> {
    const unique = new Map(notifications.map((n) => [`${n.channel}\0${n.payload}`, n]));
    for (const { channel, payload } of unique.values()) {
      await this.#pglite
        .query('select pg_notify($1, $2)', [channel, payload])
        .catch((error: Error) => this.#onWarning(`could not pass on a notification on ${channel}: ${error.message}`));
    }
  }
}
