import { describe, expect, it } from 'vitest';
import { startupOptions } from '../../src/db/pg-session.js';
import { sessionLimits } from '../../src/db/session-limits.js';

describe('sessionLimits', () => {
  it('derives every limit from the heartbeat timeout, within its bounds', () => {
    expect(sessionLimits(3_000)).toEqual({
      idleInTransactionMs: 2_000,
      lockMs: 2_000,
      statementMs: 10_000,
      keepAliveIdleMs: 1_000,
      queryMs: 15_000,
      connectMs: 4_000,
    });
    expect(sessionLimits(30_000)).toEqual({
      idleInTransactionMs: 5_000,
      lockMs: 5_000,
      statementMs: 15_000,
      keepAliveIdleMs: 7_500,
      queryMs: 20_000,
      connectMs: 10_000,
    });
    expect(sessionLimits(120_000)).toEqual({
      idleInTransactionMs: 5_000,
      lockMs: 5_000,
      statementMs: 60_000,
      keepAliveIdleMs: 10_000,
      queryMs: 65_000,
      connectMs: 10_000,
    });
    expect(sessionLimits(18_000).idleInTransactionMs).toBe(3_000);
  });

  it('defaults to the limits of the default heartbeat timeout (120 s)', () => {
    expect(sessionLimits()).toEqual(sessionLimits(120_000));
  });

  it('ends a query on the client only after the server would have ended it', () => {
    for (const t of [1_000, 3_000, 30_000, 120_000, 3_600_000]) {
      const l = sessionLimits(t);
      expect(l.queryMs).toBeGreaterThan(l.statementMs);
      expect(l.lockMs).toBeLessThanOrEqual(l.idleInTransactionMs);
    }
  });

  it('puts the server-side limits into startup parameters, keepalive in whole seconds', () => {
    expect(startupOptions(sessionLimits(30_000))).toBe(
      '-c TimeZone=UTC -c idle_in_transaction_session_timeout=5000 -c lock_timeout=5000 -c statement_timeout=15000 -c tcp_keepalives_idle=7 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=10',
    );
  });
});
