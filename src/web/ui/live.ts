/**
 * What makes the pages live: GET /ui/events, a Server-Sent Events stream that says
 * `change` (data `{}`) whenever task, run or DAG states may have changed, and GET
 * /ui/static/live.js, the script that then re-fetches the page's `data-live` fragments.
 *
 * The stream is fed by one LISTEN per process (LIVE_CHANNELS: the engine's wake-up
 * channels plus updraft_state), shared by every client and open only while one is
 * connected, and by the engine's in-process bus, which tells a standalone process of its
 * own changes without waiting for the database. Each client gets at most one event per
 * COALESCE_MS; the rows stay the truth, the pages just read them again.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { describeError } from '../../db/errors.js';
import { LIVE_CHANNELS, listen, type Listener } from '../../db/notify.js';
import { errorFields } from '../../log.js';
import type { Engine } from '../../engine/engine.js';

/** At most one `change` event per client this often. */
const COALESCE_MS = 100;
/** A comment line this often keeps proxies from closing an idle stream, and finds dead clients. */
const PING_MS = 15_000;
/** What a browser waits before it reconnects a dropped stream (the SSE `retry` field). */
const RETRY_MS = 2_000;

type Subscriber = { change(): void; close(): void };

/**
 * The fan-out of one process's changes to its SSE clients. The LISTEN connection and the
 * bus listeners exist only while someone subscribes; opening and closing are serialized,
 * so a client arriving while the last one leaves never finds a closed feed.
 */
export class LiveFeed {
  readonly #subscribers = new Set<Subscriber>();
  #listener: Listener | undefined;
  #lifecycle: Promise<void> = Promise.resolve();

  constructor(private readonly engine: Engine) {}

  /** Clients subscribed now. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Whether the LISTEN connection is open. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Resolves once changes reach `subscriber` (the LISTEN runs); returns the unsubscribe.
   * Rejects, subscribed to nothing, when the LISTEN cannot be opened.
   */
  async subscribe(subscriber: Subscriber): Promise<() => void> {
    this.#subscribers.add(subscriber);
    try {
      await this.#settle();
    } catch (error) {
      this.#subscribers.delete(subscriber);
      void this.#settle().catch(() => {});
      throw error;
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#subscribers.delete(subscriber);
      void this.#settle().catch((error: Error) =>
        this.engine.log.warn(errorFields(error), `live updates: closing LISTEN: ${describeError(error)}`),
      );
    };
  }

  /** Ends every client's stream (the server is stopping); browsers will reconnect to whoever serves next. */
  closeAll(): void {
    for (const s of [...this.#subscribers]) s.close();
  }

  readonly #emit = (): void => {
    for (const s of this.#subscribers) s.change();
  };

  /** Opens or closes the LISTEN and the bus listeners to match whether anyone subscribes. */
  #settle(): Promise<void> {
    const step = this.#lifecycle.then(async () => {
      const wanted = this.#subscribers.size > 0;
      const bus = this.engine.bus;
      if (wanted && !this.#listener) {
        this.#listener = await listen(this.engine.database, LIVE_CHANNELS, this.#emit, (error) =>
          this.engine.log.warn(errorFields(error), `live updates: LISTEN connection: ${describeError(error)}`),
        );
        bus.on('task:state', this.#emit);
        bus.on('run:finished', this.#emit);
        bus.on('runs', this.#emit);
      } else if (!wanted && this.#listener) {
        bus.off('task:state', this.#emit);
        bus.off('run:finished', this.#emit);
        bus.off('runs', this.#emit);
        const listener = this.#listener;
        this.#listener = undefined;
        await listener.close();
      }
    });
    // A failed step must not wedge the ones after it.
    this.#lifecycle = step.catch(() => {});
    return step;
  }
}

const feeds = new WeakMap<Engine, LiveFeed>();

/** This engine's feed: one per process, whatever the number of apps or clients. */
export function liveFeed(engine: Engine): LiveFeed {
  let feed = feeds.get(engine);
  if (!feed) {
    feed = new LiveFeed(engine);
    feeds.set(engine, feed);
  }
  return feed;
}

/** Ends the open event streams, so that the HTTP server can close (call it before server.close()). */
export function closeLiveStreams(engine: Engine): void {
  feeds.get(engine)?.closeAll();
}

/** The pages' scripts: live.js (this file's client) and time.js (times in the chosen timezone). */
const SCRIPTS = ['live.js', 'time.js'] as const;
const scripts = new Map<string, Promise<{ body: string; etag: string }>>();

function staticScript(name: (typeof SCRIPTS)[number]): Promise<{ body: string; etag: string }> {
  let script = scripts.get(name);
  if (!script) {
    script = readFile(new URL(`./static/${name}`, import.meta.url), 'utf8').then((body) => ({
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
    }));
    scripts.set(name, script);
  }
  return script;
}

export function liveRoutes(engine: Engine): Hono {
  const app = new Hono();

  for (const name of SCRIPTS) {
    app.get(`/ui/static/${name}`, async (c) => {
      const { body, etag } = await staticScript(name);
      c.header('Cache-Control', 'public, max-age=600');
      c.header('ETag', etag);
      if (c.req.header('If-None-Match') === etag) return c.body(null, 304);
      c.header('Content-Type', 'text/javascript; charset=utf-8');
      return c.body(body);
    });
  }

  app.get('/ui/events', async (c) => {
    // Not a page: no login redirect, which an EventSource could not follow anyway.
    if (engine.config.authRead === 'closed' && !c.get('user')) return c.text('sign in to follow changes', 401);
    const signal = c.req.raw.signal;
    let stream: Parameters<Parameters<typeof streamSSE>[1]>[0] | undefined;
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    let timer: NodeJS.Timeout | undefined;
    let writing = false;
    let dirty = false;
    let lastSent = 0;
    let finished = false;
    // At most one event per COALESCE_MS, and never a second write queued behind one a slow client has not read.
    const flush = async (): Promise<void> => {
      timer = undefined;
      if (!stream || writing) {
        dirty = true;
        return;
      }
      writing = true;
      dirty = false;
      lastSent = Date.now();
      await stream.writeSSE({ event: 'change', data: '{}' });
      writing = false;
      if (dirty) change();
    };
    const change = (): void => {
      if (timer || finished) return;
      timer = setTimeout(() => void flush(), Math.max(0, lastSent + COALESCE_MS - Date.now()));
    };
    let unsubscribe: () => void;
    try {
      unsubscribe = await liveFeed(engine).subscribe({ change, close: end });
    } catch (error) {
      engine.log.warn(errorFields(error), `live updates: cannot LISTEN: ${describeError(error)}`);
      // live.js retries later; the page still works without live updates.
      return c.text('live updates are unavailable: the database does not answer', 503);
    }
    if (signal.aborted) end();
    // hono notices a closed connection through the response body; a fetch aborted by its own signal says so here.
    signal.addEventListener('abort', end, { once: true });
    return streamSSE(c, async (s) => {
      stream = s;
      s.onAbort(end);
      const ping = setInterval(() => {
        if (!writing) void s.write(': ping\n\n');
      }, PING_MS);
      try {
        await s.write(`retry: ${RETRY_MS}\n: live\n\n`);
        if (dirty) change();
        await ended;
      } finally {
        finished = true;
        clearInterval(ping);
        clearTimeout(timer);
        signal.removeEventListener('abort', end);
        unsubscribe();
      }
    });
  });

  return app;
}
