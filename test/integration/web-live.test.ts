/**
 * Live pages: /ui/events says `change` when states change (from the engine's own bus and
 * from NOTIFY sent by any connection), lets go of its listeners when the browser leaves,
 * and /ui/static/live.js is served as a script.
 */
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.js';
import { Engine } from '../../src/engine/engine.js';
import { liveFeed, liveRoutes } from '../../src/web/ui/live.js';
import { testDatabase, testDriver, type TestDatabase } from '../support/db.js';
import { engineConfig, useEngine } from '../support/engine.js';

const DAGS = `import { dag } from 'updraft';
export default dag({ id: 'live', schedule: null }, (t) => {
  const first = t.task('first', async () => 1);
  const second = t.task('second', async () => 2);
  first.then(second);
});
`;

const WAIT_MS = 10_000;

interface EventStream {
  status: number;
  contentType: string | null;
  /** Reads until `text` arrives (after what earlier calls consumed); fails after WAIT_MS with what came. */
  until(text: string): Promise<void>;
  /** Reads until the server ends the stream; fails after WAIT_MS. */
  ended(): Promise<void>;
  cancel(): Promise<void>;
}

async function openEvents(
  app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> },
  signal?: AbortSignal,
): Promise<EventStream> {
  const response = await app.request('/ui/events', { signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let received = '';
  let consumed = 0;
  let done = false;
  const readOnce = async (deadline: number, waiting: string): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no ${waiting} within ${WAIT_MS} ms; the stream sent: ${JSON.stringify(received)}`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      const chunk = await Promise.race([reader.read(), timeout]);
      if (chunk.done) done = true;
      else received += decoder.decode(chunk.value, { stream: true });
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    async until(text) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const at = received.indexOf(text, consumed);
        if (at >= 0) {
          consumed = at + text.length;
          return;
        }
        if (done)
          throw new Error(`the stream ended without ${JSON.stringify(text)}; it sent: ${JSON.stringify(received)}`);
        await readOnce(deadline, JSON.stringify(text));
      }
    },
    async ended() {
      const deadline = Date.now() + WAIT_MS;
      while (!done) await readOnce(deadline, 'end of the stream');
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

describe('live updates beside a running engine', () => {
  const setup = useEngine({ 'live.ts': DAGS });

  it('sends a change event when a triggered run moves, fed by the engine', async () => {
    const { h } = setup();
    const app = liveRoutes(h.engine);
    const events = await openEvents(app);
    try {
      expect(events.status).toBe(200);
      expect(events.contentType).toMatch(/^text\/event-stream/);
      // The first bytes come once the feed listens: from here on no change is missed.
      await events.until('retry: ');
      const run = await h.trigger('live');
      await events.until('event: change\ndata: {}\n\n');
      expect((await run.finished).state).toBe('success');
    } finally {
      await events.cancel();
    }
  });

  it('ends the stream when the request is aborted and lets go of the LISTEN and the bus', async () => {
    const { h } = setup();
    const app = liveRoutes(h.engine);
    const feed = liveFeed(h.engine);
    const busListeners = () =>
      h.engine.bus.listenerCount('task:state') +
      h.engine.bus.listenerCount('run:finished') +
      h.engine.bus.listenerCount('runs');
    // The earlier test's client has gone: the feed holds nothing.
    await expect.poll(() => feed.listening).toBe(false);
    const before = busListeners();
    const controllers = [new AbortController(), new AbortController()];
    const streams = await Promise.all(controllers.map((c) => openEvents(app, c.signal)));
    await Promise.all(streams.map((s) => s.until('retry: ')));
    // Two clients, one LISTEN and one set of bus listeners.
    expect(feed.subscribers).toBe(2);
    expect(feed.listening).toBe(true);
    expect(busListeners()).toBe(before + 3);

    controllers[0]!.abort();
    await streams[0]!.ended();
    await expect.poll(() => feed.subscribers).toBe(1);
    expect(feed.listening).toBe(true);

    controllers[1]!.abort();
    await streams[1]!.ended();
    await expect.poll(() => feed.listening).toBe(false);
    expect(feed.subscribers).toBe(0);
    expect(busListeners()).toBe(before);
  });

  it('serves live.js as a cacheable script', async () => {
    const app = liveRoutes(setup().h.engine);
    const res = await app.request('/ui/static/live.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const body = await res.text();
    expect(body).toContain("new EventSource('/ui/events')");
    expect(body).toContain('data-live');
    const again = await app.request('/ui/static/live.js', { headers: { 'If-None-Match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });
});

describe('live updates in a web-only process', () => {
  let database: TestDatabase;
  let engine: Engine;
  const others: Database[] = [];

  beforeAll(async () => {
    database = await testDatabase();
    // As `updraft web` runs it: no processor, scheduler or executor, so nothing on its bus.
    engine = new Engine(
      database,
      engineConfig('/nonexistent'),
      { processor: false, scheduler: false, executor: false },
      pino({ level: 'silent' }),
    );
    await engine.start();
  });
  afterAll(async () => {
    await engine?.stop();
    for (const other of others) await other.close();
  });

  it('hears a NOTIFY sent by another connection', async () => {
    const events = await openEvents(liveRoutes(engine));
    try {
      await events.until('retry: ');
      // On PostgreSQL another process's connection; PGlite is one connection, so its own.
      let sender: Database = database;
      if (testDriver() === 'postgres') {
        sender = await openDatabase({ databaseUrl: database.url!, home: '', migrate: false });
        others.push(sender);
      }
      await sender.db.execute(sql`select pg_notify('updraft_state', '')`);
      await events.until('event: change\ndata: {}\n\n');
    } finally {
      await events.cancel();
    }
    await expect.poll(() => liveFeed(engine).listening).toBe(false);
  });
});
