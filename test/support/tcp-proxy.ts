/**
 * A TCP proxy on a free loopback port to a PostgreSQL server, for what a test or bench
 * does to the wire: cut every connection (a worker losing the database), or read what the
 * server sends (counting statements, bench/lib/wire-count.ts).
 */
import net from 'node:net';

export interface TcpProxy {
  /** `databaseUrl` pointed at the proxy. */
  url(databaseUrl: string): string;
  /** Destroys every open connection and refuses new ones. */
  cut(): void;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Called for each new connection; the returned function sees every chunk the server sends on it. */
  onConnection?: () => ((fromServer: Buffer) => void) | void;
}

export async function startTcpProxy(target: URL, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      // One side gone: the other goes too, as a dropped connection would.
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    const onData = options.onConnection?.();
    if (onData) upstream.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const destroyAll = () => {
    for (const s of sockets) s.destroy();
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
    close() {
      destroyAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
