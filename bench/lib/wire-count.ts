/**
 * A TCP proxy to PostgreSQL that counts, from the server's side of the wire protocol, the
 * statements and transactions of every connection made through it: one proxy per process
 * gives that process's share, which pg_stat_database (per database) cannot. It reads only
 * the message headers of what the server sends: CommandComplete ('C', its tag) is a
 * statement, unless the tag is BEGIN, COMMIT or ROLLBACK; ReadyForQuery ('Z') with status
 * idle ('I') ends a transaction (an autocommit statement, or a COMMIT or ROLLBACK), except
 * the first one of each connection, which ends its startup. Without SSL (node-postgres
 * asks for it only when told to). Every byte takes a hop through this process: figures
 * measured through it are slower than without.
 */
import { startTcpProxy } from '../../test/support/tcp-proxy.js';

export interface WireCounts {
  statements: number;
  transactions: number;
  /** ErrorResponse ('E') messages: statements the server refused. */
  errors: number;
  connections: number;
}

export interface WireCounter {
  /** `databaseUrl` pointed at the proxy. */
  url(databaseUrl: string): string;
  counts(): WireCounts;
  reset(): void;
  close(): Promise<void>;
}

const NOT_STATEMENTS = new Set(['BEGIN', 'COMMIT', 'ROLLBACK']);

export async function countingProxy(target: URL): Promise<WireCounter> {
  let counts: WireCounts = { statements: 0, transactions: 0, errors: 0, connections: 0 };
  const proxy = await startTcpProxy(target, {
    onConnection() {
      counts.connections++;
      // Messages from the server: type (1 byte), length (4 bytes, itself included), body.
      let buffered: Buffer = Buffer.alloc(0);
      let started = false;
      return (chunk: Buffer) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        let at = 0;
        while (buffered.length - at >= 5) {
          const length = buffered.readInt32BE(at + 1);
          if (buffered.length - at < 1 + length) break;
          const type = buffered[at];
          if (type === 0x43 /* C */) {
            const tag = buffered.toString('latin1', at + 5, at + length).split(/[\s\0]/)[0]!;
            if (!NOT_STATEMENTS.has(tag)) counts.statements++;
          } else if (type === 0x45 /* E */) counts.errors++;
          else if (type === 0x5a /* Z */) {
            if (buffered[at + 5] === 0x49 /* I */ && started) counts.transactions++;
            started = true;
          }
          at += 1 + length;
        }
        buffered = buffered.subarray(at);
      };
    },
  });
  return {
    url: proxy.url,
    counts: () => ({ ...counts }),
    reset() {
      counts = { statements: 0, transactions: 0, errors: 0, connections: counts.connections };
    },
    close: proxy.close,
  };
}
