import { DrizzleQueryError } from 'drizzle-orm';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { describeDatabaseError, describeError, isConnectionError, isContentionError } from '../../src/db/errors.js';
import { Engine } from '../../src/engine/engine.js';

const SQL = 'update "task_instances" set "state" = $1, "result" = $2 where "id" = $3';
const PARAMS = ['success', '{"api_key":"hunter2-secret"}', '7b0c'];

/** An error as drizzle throws it: its message holds the SQL and the parameters, the driver's error is the cause. */
function wrapped(cause: Error): DrizzleQueryError {
  return new DrizzleQueryError(SQL, PARAMS, cause);
}

function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

function socketError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: -104, syscall: 'read' });
}

describe('database errors', () => {
  it('says what the driver said, never the SQL text or parameters drizzle wraps it in', () => {
    const reset = wrapped(socketError('ECONNRESET', 'read ECONNRESET'));
    expect(reset.message).toContain('hunter2-secret');
    expect(describeError(reset)).toBe('read ECONNRESET');
    expect(describeDatabaseError(reset)).toBe('read ECONNRESET');
    expect(
      describeError(
        wrapped(serverError('23505', 'duplicate key value violates unique constraint "x"\nDETAIL: Key (id)=(1)')),
      ),
    ).toBe('database error 23505: duplicate key value violates unique constraint "x"');
  });

  it("keeps a wrapper's own words around the driver's", () => {
    const inner = wrapped(new Error('Connection terminated unexpectedly'));
    const outer = new Error(`backfill 3: ${inner.message}`, { cause: inner });
    expect(describeError(outer)).toBe('backfill 3: Connection terminated unexpectedly');
  });

  it('takes a lost connection, whatever shape node-postgres gives it, for a connection error', () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'Client has encountered a connection error and is not queryable',
      'Query read timeout',
      'Connection terminated due to connection timeout',
    ]) {
      expect(isConnectionError(wrapped(new Error(message))), message).toBe(true);
    }
    expect(isConnectionError(wrapped(socketError('ECONNRESET', 'read ECONNRESET')))).toBe(true);
    // The server ended a session that stalled inside a transaction, or shut down.
    expect(
      isConnectionError(wrapped(serverError('25P03', 'terminating connection due to idle-in-transaction timeout'))),
    ).toBe(true);
    expect(
      isConnectionError(wrapped(serverError('57P01', 'terminating connection due to administrator command'))),
    ).toBe(true);
  });

  it('takes a lock or statement timeout for contention, not for a lost connection', () => {
    for (const code of ['55P03', '57014', '40001', '40P01']) {
      const error = wrapped(serverError(code, 'canceling statement'));
      expect(isConnectionError(error), code).toBe(false);
      expect(isContentionError(error), code).toBe(true);
    }
    expect(isContentionError(wrapped(serverError('23505', 'duplicate key')))).toBe(false);
  });
});

describe("the engine's log of an error", () => {
  function engineLogging(): { engine: Engine; lines: () => Array<Record<string, unknown>> } {
    const out: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void out.push(line) });
    // Not started: reporting an error touches no database.
    const database = { db: {}, driver: 'postgres', close: async () => {} } as unknown as Database;
    const engine = new Engine(database, loadConfig({}), { processor: false, scheduler: false, executor: false }, log);
    return { engine, lines: () => out.map((line) => JSON.parse(line) as Record<string, unknown>) };
  }

  it('is one warning without the SQL, the parameters or a stack when the connection was lost', () => {
    const { engine, lines } = engineLogging();
    engine.bus.emit('error', wrapped(socketError('ECONNRESET', 'read ECONNRESET')));
    expect(lines()).toHaveLength(1);
    const [line] = lines();
    expect(line).toMatchObject({
      level: 40,
      msg: 'cannot reach the database (read ECONNRESET): retrying until it is back',
    });
    const text = JSON.stringify(line);
    for (const leak of ['hunter2-secret', 'params', 'task_instances', 'stack']) expect(text).not.toContain(leak);
  });

  it('names a refused statement by its SQLSTATE, without the SQL, the parameters or a stack', () => {
    const { engine, lines } = engineLogging();
    engine.bus.emit('error', wrapped(serverError('23514', 'new row violates check constraint "c"')));
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 50,
        code: '23514',
        msg: 'database error 23514: new row violates check constraint "c"',
      }),
    ]);
    expect(JSON.stringify(lines())).not.toMatch(/hunter2-secret|params|stack/);
  });

  it('warns of a lock wait past its limit as contention, in one line', () => {
    const { engine, lines } = engineLogging();
    engine.bus.emit('error', wrapped(serverError('55P03', 'canceling statement due to lock timeout')));
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 40,
        code: '55P03',
        msg: 'database error 55P03: canceling statement due to lock timeout (trying again)',
      }),
    ]);
  });

  it("keeps the stack of an error of Updraft's own code", () => {
    const { engine, lines } = engineLogging();
    engine.bus.emit('error', new TypeError('cannot read properties of undefined'));
    const [line] = lines();
    expect(line).toMatchObject({ level: 50, msg: 'cannot read properties of undefined' });
    expect((line!.err as { stack: string }).stack).toContain('TypeError');
  });
});
