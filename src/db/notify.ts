import { sql } from 'drizzle-orm';
import type pg from 'pg';
import type { Database } from './client.js';
import { execute, type Executor } from './execute.js';
import { dedicatedClient } from './pg-session.js';
import { quoteIdent } from './quote.js';

/** NOTIFY channels. A notification is a hint to look at the database, never the data itself. */
export const CHANNELS = {
  /** Task instances became ready to claim; payload 'runs' when runs also ended (one NOTIFY per transaction). */
  work: 'updraft_work',
  /** Runs were queued, triggered or finished: the scheduler has something to do. */
  runs: 'updraft_runs',
  /** DAGs were paused, unpaused or changed. */
  dags: 'updraft_dags',
  /**
   * Task or run states changed and no channel above says so (a try started or ended without
   * news for schedulers or executors, runs were created or started). Only live displays
   * listen to it (src/web/ui/live.ts): the engine does not, so it never wakes a scheduler.
   * Payload ''.
   */
  state: 'updraft_state',
} as const;

export type Channel = keyof typeof CHANNELS;

/** The channels an engine wakes on: every one but `state`. */
export const ENGINE_CHANNELS: readonly string[] = [CHANNELS.work, CHANNELS.runs, CHANNELS.dags];

/** Every channel whose notifications mean that what a page shows may have changed. */
export const LIVE_CHANNELS: readonly string[] = Object.values(CHANNELS);

/**
 * Sends a notification on one of CHANNELS, within `tx`: PostgreSQL delivers it when the
 * transaction commits, and never if it rolls back. The one way the code sends on them.
 */
export async function notify(tx: Executor, channel: Channel, payload = ''): Promise<void> {
  await execute(tx, sql`select pg_notify(${CHANNELS[channel]}, ${payload})`);
}

export interface Listener {
  close(): Promise<void>;
}

/**
 * One LISTEN connection for the process. On PostgreSQL it is a dedicated client that
 * reconnects with backoff; after a reconnect every channel's handler is called once,
 * since notifications sent meanwhile were lost (the database rows are the truth).
 */
export async function listen(
  database: Database,
  channels: readonly string[],
  onNotify: (channel: string, payload: string) => void,
  onError: (error: Error) => void = () => {},
  onReconnect: () => void = () => {},
): Promise<Listener> {
  if (database.pglite) {
    const pglite = database.pglite;
    const unsubscribe = await Promise.all(
      channels.map((channel) => pglite.listen(channel, (payload) => onNotify(channel, payload))),
    );
    return { close: async () => void (await Promise.all(unsubscribe.map((u) => u()))) };
  }
  const pool = database.pool!;
  let client: pg.Client | undefined;
  let closed = false;
  let delay = 100;
  const connect = async (): Promise<void> => {
    // The pool's session limits apply and do not disturb it: it never opens a transaction,
    // so idle_in_transaction_session_timeout never ends it, and keepalive notices a vanished
    // server while it waits for notifications.
    const next = dedicatedClient(pool);
    next.on('notification', (message) => onNotify(message.channel, message.payload ?? ''));
    next.on('error', (error) => {
      onError(error);
      void reconnect(next);
    });
    next.on('end', () => void reconnect(next));
    await next.connect();
    for (const channel of channels) await next.query(`listen ${quoteIdent(channel)}`);
    client = next;
    delay = 100;
  };
  const reconnect = async (dead: pg.Client): Promise<void> => {
    if (closed || client !== dead) return;
    client = undefined;
    dead.removeAllListeners();
    dead.on('error', () => {});
    while (!closed) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
      try {
        await connect();
        onReconnect();
        for (const channel of channels) onNotify(channel, '');
        return;
      } catch (error) {
        onError(error as Error);
      }
    }
  };
  await connect();
  return {
    async close() {
      closed = true;
      const current = client;
      client = undefined;
      current?.removeAllListeners();
      current?.on('error', () => {});
      await current?.end().catch(() => {});
    },
  };
}
