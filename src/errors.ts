/**
 * The few named errors Updraft raises. Each carries a message a user can act on;
 * `cause` keeps the underlying error for logs.
 */
export class UpdraftError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A DAG file or definition is invalid. `file` and `field` say where. */
export class DagDefinitionError extends UpdraftError {
  readonly file: string | undefined;
  readonly field: string | undefined;
  constructor(message: string, where: { file?: string; field?: string } = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.file = where.file;
    this.field = where.field;
  }
}

/** A cron expression, preset or timezone is invalid, or a date cannot be read. */
export class ScheduleError extends UpdraftError {}

/** The environment or a command-line flag is invalid. */
export class ConfigError extends UpdraftError {}

/** One input of a request is wrong (a backfill's `from`, say): `field` names it, for the API's 400. */
export class InputError extends ConfigError {
  constructor(
    message: string,
    readonly field: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Something the user asked for does not exist (a DAG id, a run). */
export class NotFoundError extends UpdraftError {}
