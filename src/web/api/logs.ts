/**
 * .../taskInstances/{task_id}/logs/{try_number}: one try's stored log, as JSON (the lines
 * and the text) or, when the client asks for text/plain, the text the CLI prints.
 */
import { z } from 'zod';
import { taskLog } from '../../catalog/runs.js';
import { formatLogLine } from '../../util/log-line.js';
import { intParam, iso, responseSchemas, Timestamp } from './common.js';
import { INT4_MAX } from '../../util/input.js';
import { defineRoute } from './route.js';
import { TaskPath } from './task-instances.js';

const LogLine = z.object({
  timestamp: Timestamp,
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: z.string(),
});

const TaskLog = z
  .object({
    dag_id: z.string(),
    dag_run_id: z.string(),
    task_id: z.string(),
    try_number: z.int(),
    content: z.string().describe("The lines as text, '<ISO time> <LEVEL> <message>' each"),
    lines: z.array(LogLine),
  })
  .register(responseSchemas, { id: 'TaskLog' });

/** Whether the request asks for text/plain rather than JSON. */
function wantsText(accept: string | undefined): boolean {
  return accept?.includes('text/plain') === true && !accept.includes('application/json');
}

export const logRoutes = [
  defineRoute({
    method: 'get',
    path: '/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}',
    operationId: 'get_log',
    summary: "One try's log",
    description:
      'JSON by default; text/plain when the Accept header asks for it. A try that wrote nothing has an empty log; a try not yet started is a 404.',
    tag: 'TaskInstance',
    params: TaskPath.extend({ try_number: intParam(1).describe('1 for the first try') }),
    query: z.strictObject({
      map_index: intParam(-1, INT4_MAX, -1).describe(
        "A mapped task's instance (default -1: a task that is not mapped)",
      ),
    }),
    response: TaskLog,
    text: true,
    errors: [404],
    async handler({ c, db, params, query }) {
      const log = await taskLog(
        db,
        params.dag_id,
        params.dag_run_id,
        params.task_id,
        params.try_number,
        query.map_index,
      );
      const lines = log.logs.flatMap((l) => l.lines);
      const content = lines.map((l) => `${formatLogLine(l.at, l.level, l.message)}\n`).join('');
      if (wantsText(c.req.header('accept'))) return c.text(content);
      return {
        dag_id: params.dag_id,
        dag_run_id: log.runId,
        task_id: log.taskId,
        try_number: params.try_number,
        content,
        lines: lines.map((l) => ({
          timestamp: iso(l.at),
          level: l.level as z.input<typeof LogLine>['level'],
          message: l.message,
        })),
      };
    },
  }),
];
