import type { TaskPayload } from '../../src/executor/protocol.js';

/** What the executor sends a task thread for one try, with test defaults (a manual run of 2026-01-01, try 1 of 1). */
export function taskPayload(
  fields: Pick<TaskPayload, 'file' | 'dagId' | 'taskId'> & Partial<Omit<TaskPayload, 'port'>>,
): Omit<TaskPayload, 'port'> {
  return {
    fileVersion: 'v1',
    runId: 'manual__2026-01-01',
    taskInstanceId: '1',
    logicalDate: '2026-01-01T00:00:00.000Z',
    intervalStart: '2026-01-01T00:00:00.000Z',
    intervalEnd: '2026-01-02T00:00:00.000Z',
    tryNumber: 1,
    maxTries: 1,
    params: {},
    conf: {},
    upstreamResults: {},
    ...fields,
  };
}
