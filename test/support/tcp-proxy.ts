/**
 * A TCP proxy on a free loopback port to a PostgreSQL server, for what a test or bench
 * does to the wire: cut every connection (a worker losing the database), black-hole it
 * (a partition: the peer looks alive, nothing arrives), lose one COMMIT's reply, act at
 * the moment a statement is sent, or read what the server sends (counting statements,
 * bench/lib/wire-count.ts).
 *
 * It reads the PostgreSQL protocol's framing in both directions: every message is a type
 * byte and an int32 length (itself included), except the client's first messages (startup,
 * SSLRequest, GSSENCRequest, CancelRequest: an int32 length and an int32 code, no type) and
 * the server's one-byte answer to an SSLRequest or GSSENCRequest.
 */
import net from 'node:net';

export interface TcpProxy {
  /** `databaseUrl` pointed at the proxy. */
  url(databaseUrl: string): string;
  /** Destroys every open connection and refuses new ones. */
  cut(): void;
  /**
   * Stops forwarding in both directions but keeps every socket open, and holds new
   * connections (accepted, nothing forwarded): to both sides the other looks alive and
   * silent, as behind a network partition.
   */
  partition(): void;
  /** Forwards again: what was held during the partition flows, in order. */
  heal(): void;
  /**
   * One-shot: on the first connection whose client sends a statement matching `match` that
   * then changes or returns rows (its CommandComplete tag does not end in ' 0'), the
   * server's next CommandComplete with tag COMMIT is not forwarded; both sockets are
   * destroyed instead. The server has committed; the client never learns it. A matching
   * statement of no rows, or a transaction rolled back, leaves it armed.
   */
  dropCommitReply(match: RegExp): { fired: Promise<void> };
  /**
   * One-shot: calls `act` when a client sends a statement matching `match`, before the
   * statement goes on to the server (so that a SIGSTOP sent by `act` lands before the
   * client can read the reply).
   */
  onStatement(match: RegExp, act: () => void): { fired: Promise<void> };
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Called for each new connection; the returned function sees every chunk the server sends on it. */
  onConnection?: () => ((fromServer: Buffer) => void) | undefined;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** A message of the protocol: its type ('' for the client's untyped startup messages) and whole bytes. */
interface Message {
  type: string;
  bytes: Buffer;
}

/**
 * Splits one direction's byte stream into messages, across chunks. `untyped` says whether
 * the next message has no type byte (the client's startup phase); `oneByte` whether the
 * next message is the server's single-byte SSL/GSS answer.
 */
class Framer {
  #rest: Buffer = Buffer.alloc(0);
  untyped = false;
  oneByte = 0;

  push(chunk: Buffer): Message[] {
    this.#rest = this.#rest.length === 0 ? chunk : Buffer.concat([this.#rest, chunk]);
    const messages: Message[] = [];
    for (;;) {
      const buf = this.#rest;
      if (this.oneByte > 0) {
        if (buf.length < 1) break;
        this.oneByte--;
        messages.push({ type: 'answer', bytes: buf.subarray(0, 1) });
        this.#rest = buf.subarray(1);
        continue;
      }
      const head = this.untyped ? 0 : 1;
      if (buf.length < head + 4) break;
      const length = buf.readInt32BE(head);
      if (buf.length < head + length) break;
      messages.push({ type: this.untyped ? '' : String.fromCharCode(buf[0]!), bytes: buf.subarray(0, head + length) });
      this.#rest = buf.subarray(head + length);
    }
    return messages;
  }
}

/** The SQL text of a simple query ('Q') or Parse ('P') message, else undefined. */
function statementText(m: Message): string | undefined {
  if (m.type === 'Q') return m.bytes.toString('utf8', 5, m.bytes.length - 1);
  if (m.type === 'P') {
    // Parse: statement name (C string), then the query (C string).
    const nameEnd = m.bytes.indexOf(0, 5);
    const queryEnd = m.bytes.indexOf(0, nameEnd + 1);
    return m.bytes.toString('utf8', nameEnd + 1, queryEnd);
  }
  return undefined;
}

/** The tag of a CommandComplete ('C') message. */
function commandTag(m: Message): string {
  return m.bytes.toString('utf8', 5, m.bytes.length - 1);
}

interface Watch {
  match: RegExp;
  onMatch: (connection: Connection) => void;
}

interface Connection {
  client: net.Socket;
  upstream: net.Socket;
  /** Set by dropCommitReply once this connection sent the statement: what its reply decides ('tag'), then the COMMIT to drop. */
  drop?: { phase: 'tag' | 'commit'; fired: () => void; rearm: () => void };
  /** Bytes not forwarded during a partition, per direction. */
  heldToServer: Buffer[];
  heldToClient: Buffer[];
}

export async function startTcpProxy(target: URL, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const connections = new Set<Connection>();
  const watches: Watch[] = [];
  let partitioned = false;

  const toServer = (conn: Connection, bytes: Buffer) => {
    if (partitioned) conn.heldToServer.push(bytes);
    else conn.upstream.write(bytes);
  };
  const toClient = (conn: Connection, bytes: Buffer) => {
    if (partitioned) conn.heldToClient.push(bytes);
    else conn.client.write(bytes);
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    const conn: Connection = { client, upstream, heldToServer: [], heldToClient: [] };
    connections.add(conn);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      // One side gone: the other goes too, as a dropped connection would.
      s.on('close', () => {
        sockets.delete(s);
        connections.delete(conn);
        client.destroy();
        upstream.destroy();
      });
    }
    const fromClient = new Framer();
    fromClient.untyped = true;
    const fromServer = new Framer();
    client.on('data', (chunk: Buffer) => {
      for (const m of fromClient.push(chunk)) {
        if (m.type === '') {
          const code = m.bytes.readInt32BE(4);
          // After an SSL or GSS request the server answers one byte and the client starts again, untyped.
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) fromServer.oneByte++;
          else fromClient.untyped = false;
        }
        const text = statementText(m);
        if (text !== undefined) {
          for (const w of watches.filter((w) => w.match.test(text))) {
            watches.splice(watches.indexOf(w), 1);
            w.onMatch(conn);
          }
        }
        if (client.destroyed) return;
        toServer(conn, m.bytes);
      }
    });
    const onData = options.onConnection?.();
    upstream.on('data', (chunk: Buffer) => {
      onData?.(chunk);
      for (const m of fromServer.push(chunk)) {
        const drop = conn.drop;
        if (drop && m.type === 'C') {
          const tag = commandTag(m);
          if (drop.phase === 'tag') {
            if (tag.endsWith(' 0') || tag === 'ROLLBACK') {
              conn.drop = undefined;
              drop.rearm();
            } else drop.phase = 'commit';
          } else if (tag === 'ROLLBACK') {
            conn.drop = undefined;
            drop.rearm();
          } else if (tag === 'COMMIT') {
            conn.drop = undefined;
            client.destroy();
            upstream.destroy();
            drop.fired();
            return;
          }
        }
        toClient(conn, m.bytes);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const destroyAll = () => {
    for (const s of sockets) s.destroy();
  };
  const watch = (match: RegExp, onMatch: (conn: Connection, fired: () => void) => void) => {
    let fired!: () => void;
    const promise = new Promise<void>((resolve) => (fired = resolve));
    watches.push({ match, onMatch: (conn) => onMatch(conn, fired) });
    return { fired: promise };
  };
  return {
    url(databaseUrl) {
      const u = new URL(databaseUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut() {
      server.close();
      destroyAll();
    },
    partition() {
      partitioned = true;
    },
    heal() {
      partitioned = false;
      for (const conn of connections) {
        for (const bytes of conn.heldToServer.splice(0)) conn.upstream.write(bytes);
        for (const bytes of conn.heldToClient.splice(0)) conn.client.write(bytes);
      }
    },
    dropCommitReply(match) {
      let fired!: () => void;
      const promise = new Promise<void>((resolve) => (fired = resolve));
      const arm = () => watches.push({ match, onMatch: (conn) => (conn.drop = { phase: 'tag', fired, rearm: arm }) });
      arm();
      return { fired: promise };
    },
    onStatement(match, act) {
      return watch(match, (_, fired) => {
        act();
        fired();
      });
    },
    close() {
      destroyAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
