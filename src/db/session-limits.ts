/**
 * How long a session on PostgreSQL may hold or wait for anything, derived from the heartbeat
 * timeout (UPDRAFT_HEARTBEAT_TIMEOUT). Without limits, a process frozen (SIGSTOP, a VM
 * pause) or cut off inside a transaction keeps its locks until Linux's TCP keepalive gives
 * up, about two hours later, and every other process waits on them. Pure: client.ts turns
 * these into startup parameters and node-postgres settings (pg-session.ts).
 */
import { DEFAULT_HEARTBEAT_TIMEOUT_MS } from '../config.js';

export interface SessionLimits {
  /** Server: a session idle inside a transaction longer than this is ended, its locks released. */
  idleInTransactionMs: number;
  /** Server: a statement waiting for a lock longer than this fails (SQLSTATE 55P03). */
  lockMs: number;
  /** Server: a statement running longer than this is cancelled (SQLSTATE 57014). */
  statementMs: number;
  /** Both ends: TCP keepalive probes start after this much silence (then 1 s apart, 10 of them). */
  keepAliveIdleMs: number;
  /** Client: a query without an answer this long fails, and its connection is destroyed. */
  queryMs: number;
  /** Client: opening a connection that takes longer fails. */
  connectMs: number;
}

const clamp = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, Math.round(value)));

export function sessionLimits(heartbeatTimeoutMs: number = DEFAULT_HEARTBEAT_TIMEOUT_MS): SessionLimits {
  const t = heartbeatTimeoutMs;
  // A stalled holder of any lock loses it within a few seconds: far less than the heartbeat
  // timeout, so a frozen scheduler or executor never keeps the others waiting until its
  // tasks are reaped. No Updraft transaction waits on anything but the database between
  // two statements, so even 2 s is far above a healthy gap.
  const idleInTransactionMs = clamp(t / 6, 2_000, 5_000);
  // A waiter never waits longer than a stalled holder can hold: past that, the holder is
  // not coming back, and the waiter's loop retries with a fresh transaction.
  const lockMs = idleInTransactionMs;
  // Updraft's statements take milliseconds; one running for half a heartbeat timeout is
  // stuck (or blocked in a way lock_timeout does not cover) and would hold its locks too.
  const statementMs = clamp(t / 2, 10_000, 60_000);
  // A dead peer (host gone, cable cut) is noticed only by keepalive when the connection is
  // idle. Node's socket.setKeepAlive(true, delay) sets TCP_KEEPIDLE = delay (whole seconds),
  // TCP_KEEPINTVL = 1 and TCP_KEEPCNT = 10 (libuv's uv__tcp_keepalive, src/unix/tcp.c; Node
  // docs of net.Socket.setKeepAlive since v12.17/v13.12, nodejs/node#32204), so a dead
  // peer is noticed within delay + 10 s. The server gets the same numbers (client.ts).
  const keepAliveIdleMs = clamp(t / 4, 1_000, 10_000);
  // Keepalive does not help while a sent request is unacknowledged (packets vanish in a
  // partition): TCP retransmits for ~15 min then. The server ends any statement at
  // statementMs, so no answer by statementMs + 5 s means the answer is not coming.
  const queryMs = statementMs + 5_000;
  // A connect to a black hole (the server's address lost in a failover) fails instead of hanging.
  const connectMs = idleInTransactionMs * 2;
  return { idleInTransactionMs, lockMs, statementMs, keepAliveIdleMs, queryMs, connectMs };
}
