/**
 * The few PostgreSQL wire-protocol messages the embedded database's socket looks at
 * (https://www.postgresql.org/docs/current/protocol-message-formats.html): every backend
 * message is a type byte, an int32 length (itself included) and a body.
 */

const code = (c: string) => c.charCodeAt(0);

export const TERMINATE = code('X');
const QUERY = code('Q');
const NOTIFICATION = code('A');
const READY_FOR_QUERY = code('Z');

/** What the backend said in one response, and that response without its notifications. */
export interface Scanned {
  /** The output without NotificationResponse messages: the socket hands those out itself. */
  output: Buffer;
  notifications: { channel: string; payload: string }[];
  /** Transaction status of the last ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' failed one; null when there was none. */
  status: string | null;
}

/** Splits a backend response (whole messages) into what the client gets and what the socket acts on. */
export function scanResponse(output: Buffer): Scanned {
  const notifications: Scanned['notifications'] = [];
  let status: string | null = null;
  const kept: Buffer[] = [];
  let offset = 0;
  let keptFrom = 0;
  while (offset + 5 <= output.length) {
    const type = output[offset]!;
    const end = offset + 1 + output.readInt32BE(offset + 1);
    if (type === READY_FOR_QUERY) status = String.fromCharCode(output[offset + 5]!);
    if (type === NOTIFICATION) {
      // int32 process id, channel, payload (both NUL-terminated).
      const channelEnd = output.indexOf(0, offset + 9);
      notifications.push({
        channel: output.toString('utf8', offset + 9, channelEnd),
        payload: output.toString('utf8', channelEnd + 1, end - 1),
      });
      kept.push(output.subarray(keptFrom, offset));
      keptFrom = end;
    }
    offset = end;
  }
  if (notifications.length === 0) return { output, notifications, status };
  kept.push(output.subarray(keptFrom));
  return { output: Buffer.concat(kept), notifications, status };
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = code(type);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const cstring = (text: string) => Buffer.from(`${text}\0`, 'utf8');

/** A simple-protocol Query message. */
export function queryMessage(sql: string): Uint8Array {
  return message('Q', cstring(sql));
}

/** The response to a command the socket answers itself: CommandComplete, then ReadyForQuery. */
export function commandComplete(tag: string, status: string): Buffer {
  return Buffer.concat([message('C', cstring(tag)), message('Z', Buffer.from(status))]);
}

/** A NotificationResponse, as a LISTENing client receives it. */
export function notificationMessage(channel: string, payload: string): Buffer {
  return message('A', Buffer.concat([Buffer.alloc(4), cstring(channel), cstring(payload)]));
}

export interface ListenCommand {
  command: 'LISTEN' | 'UNLISTEN';
  /** The channel as PostgreSQL names it (unquoted: folded to lower case), or '*' (UNLISTEN *). */
  channel: string;
}

const LISTEN_SQL = /^\s*(listen|unlisten)\s+("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*|\*)\s*;?\s*$/i;

/** A simple Query message that is exactly one LISTEN or UNLISTEN, or null. */
export function listenCommand(incoming: Uint8Array): ListenCommand | null {
  if (incoming[0] !== QUERY || incoming.length > 200) return null;
  const match = LISTEN_SQL.exec(Buffer.from(incoming).toString('utf8', 5, incoming.length - 1));
  if (!match) return null;
  const command = match[1]!.toUpperCase() as ListenCommand['command'];
  const name = match[2]!;
  if (name === '*' && command === 'LISTEN') return null;
  const channel = name.startsWith('"')
    ? name.slice(1, -1).replaceAll('""', '"')
    : name === '*'
      ? '*'
      : name.toLowerCase();
  return { command, channel };
}
