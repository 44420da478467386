import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { scheduleSpecOf } from '../../catalog/dags.js';
import { loadConfig, type Config } from '../../config.js';
import { resolveConf } from '../../dag/params.js';
import { taskSettings, versionHash } from '../../dag/serialize.js';
import { NotFoundError } from '../../errors.js';
import { TaskPool } from '../../executor/pool.js';
import type { Question, TaskOutcome } from '../../executor/protocol.js';
import { connectionEnvName, connectionUrl } from '../../connections/store.js';
import { openDatabase } from '../../db/client.js';
import { sessionLimits } from '../../db/session-limits.js';
import { findDagInFolder } from '../../processor/find.js';
import { inZone, manualRunInfo } from '../../schedule/index.js';
import { dateArg, readDate, withDateRule, type DateArg } from '../dates.js';
import { formatLogLine } from '../../util/log-line.js';
import { parseConf } from './run-dags.js';

/**
 * `updraft tasks test`: one task, in this process, as Airflow's `tasks test` does:
 * no dependency checks and nothing stored. The DAG comes from parsing the DAGs
 * folder, never from the database, so this works while another process (standalone
 * on the embedded database) holds it, or with no database at all.
 */
async function testTask(
  dagId: string,
  taskId: string,
  date: DateArg | undefined,
  conf: Record<string, unknown>,
): Promise<TaskOutcome> {
  const config = loadConfig();
  const { file, source, serialized } = await findDagInFolder(config.dagsFolder, dagId, config.importTimeoutMs);
  const task = serialized.tasks.find((t) => t.id === taskId);
  if (!task) {
    const ids = serialized.tasks.map((t) => t.id);
    const shown = ids.length > 10 ? `${ids.slice(0, 10).join(', ')}, ... (${ids.length} in all)` : ids.join(', ');
    throw new NotFoundError(`DAG '${dagId}' has no task '${taskId}' (its tasks: ${shown})`);
  }
  const params = resolveConf(serialized.params, conf, dagId, '--conf');
  const settings = taskSettings(serialized, task);
  const info = manualRunInfo(scheduleSpecOf(serialized), readDate(date, serialized.timezone) ?? new Date());
  const runId = `test__${info.logicalDate.toISOString()}`;
  console.error(
    `testing ${dagId}.${taskId}: logical date ${inZone(info.logicalDate, serialized.timezone)}, run ${runId}; no state is stored`,
  );

  const pool = new TaskPool({ size: 1 });
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort('interrupted (Ctrl-C)');
  process.once('SIGINT', onSigint);
  try {
    return await pool.run(
      {
        file,
        fileVersion: versionHash(serialized, source),
        dagId,
        taskId,
        runId,
        taskInstanceId: randomUUID(),
        logicalDate: info.logicalDate.toISOString(),
        intervalStart: info.interval.start.toISOString(),
        intervalEnd: info.interval.end.toISOString(),
        tryNumber: 1,
        maxTries: settings.retries + 1,
        params,
        conf,
        upstreamResults: {},
      },
      {
        timeoutMs: settings.timeoutMs,
        signal: interrupt.signal,
        onLog: (line) => console.log(formatLogLine(new Date(line.at), line.level, line.message)),
        onAsk: (question) => answerAlone(question, config),
      },
    );
  } finally {
    process.off('SIGINT', onSigint);
    await pool.close();
  }
}

/** Questions of a task run alone: no upstream results, no kept state; connections from the environment first. */
async function answerAlone(question: Question, config: Config): Promise<unknown> {
  switch (question.kind) {
    case 'pull':
      throw new Error(
        `tasks test runs one task alone: the result of upstream task '${question.taskId}' is not available`,
      );
    case 'state':
      return null;
    case 'connection': {
      if (process.env[connectionEnvName(question.name)]) return connectionUrl(undefined, question.name);
      // Stored connections need the database; the embedded one may be held by standalone.
      const database = await openDatabase({
        databaseUrl: config.databaseUrl,
        home: config.home,
        session: sessionLimits(config.heartbeatTimeoutMs),
      });
      try {
        return await connectionUrl(database.db, question.name);
      } finally {
        await database.close();
      }
    }
  }
}

export function registerTaskTestCommand(tasks: Command): void {
  withDateRule(tasks.command('test'))
    .description(
      'run one task in this process: no dependency checks, nothing stored, no database needed; exit 1 if it fails',
    )
    .argument('<dag>', 'DAG id')
    .argument('<task>', 'task id')
    .argument('[date]', 'logical date (default: now)', dateArg('date'))
    .option('--conf <json>', 'run conf, checked against the DAG params', parseConf)
    .action(
      async (dagId: string, taskId: string, date: DateArg | undefined, opts: { conf?: Record<string, unknown> }) => {
        const outcome = await testTask(dagId, taskId, date, opts.conf ?? {});
        switch (outcome.status) {
          case 'success':
            console.log(
              outcome.result === undefined
                ? 'success (no result)'
                : `success: ${JSON.stringify(outcome.result, null, 2)}`,
            );
            break;
          case 'skipped':
            console.log(`skipped: ${outcome.reason}`);
            break;
          case 'reschedule':
            // One poke of a reschedule-mode sensor: in a run it would be up_for_reschedule now.
            console.log(
              `up_for_reschedule: the sensor's condition is not met yet; it would poke again at ${new Date(outcome.nextPokeAt).toISOString()}`,
            );
            break;
          case 'failed':
            console.log(`failed: ${outcome.error}`);
            // A stack with no frame left once Updraft's own are removed would only repeat the message.
            if (outcome.stack && /\n\s+at /.test(outcome.stack)) console.log(outcome.stack);
            process.exitCode = 1;
            break;
        }
      },
    );
}
