/** Operator state (a sync's watermark) as the executor keeps it with a batch of task results. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { readOperatorState, writeOperatorState } from '../../src/operators/state.js';
import { testDatabase } from '../support/db.js';

let database: Database;
beforeAll(async () => {
  database = await testDatabase();
});

describe('operator state', () => {
  it('keeps the later of two values a batch sets for one key, and a null as JSON null', async () => {
    await database.db.transaction((tx) =>
      writeOperatorState(tx, [
        { dagId: 'd', taskId: 'sync', key: 'watermark', value: '2026-01-01T00:00:00.000Z' },
        { dagId: 'd', taskId: 'sync', key: 'watermark', value: '2026-01-02T00:00:00.000Z' },
        { dagId: 'd', taskId: 'other', key: 'watermark', value: null },
      ]),
    );
    expect(await readOperatorState(database.db, 'd', 'sync', 'watermark')).toBe('2026-01-02T00:00:00.000Z');
    expect(await readOperatorState(database.db, 'd', 'other', 'watermark')).toBeNull();
    await database.db.transaction((tx) =>
      writeOperatorState(tx, [{ dagId: 'd', taskId: 'sync', key: 'watermark', value: 42 }]),
    );
    expect(await readOperatorState(database.db, 'd', 'sync', 'watermark')).toBe(42);
  });
});
