/**
 * One task log line as text: '<ISO time> <LEVEL> <message>'. The CLI (`tasks logs`,
 * `tasks test`) prints it and the API serves a try's log as text/plain in it, so both
 * read the same; it lives below both.
 */
export function formatLogLine(at: Date, level: string, message: string): string {
  return `${at.toISOString()} ${level.toUpperCase()} ${message}`;
}
