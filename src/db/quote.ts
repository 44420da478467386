/**
 * The one helper that quotes SQL identifiers. Values never go into SQL text (they are
 * parameters); identifiers a user names (a table in a DAG file) go through here.
 */
import { UpdraftError } from '../errors.js';

/**
 * Quote an identifier for PostgreSQL. A dotted string is split and each part quoted:
 * `quoteIdent('staging.orders')` is `"staging"."orders"`. Pass an array of parts for a
 * name that itself contains a dot: `quoteIdent(['staging', 'orders.v2'])`.
 */
export function quoteIdent(name: string | readonly string[]): string {
  const parts = typeof name === 'string' ? name.split('.') : name;
  if (parts.length === 0) throw new UpdraftError('invalid SQL identifier: empty name');
  return parts.map((part) => quotePart(part, name)).join('.');
}

function quotePart(part: string, whole: string | readonly string[]): string {
  const shown = typeof whole === 'string' ? whole : whole.join('.');
  if (part.length === 0) throw new UpdraftError(`invalid SQL identifier '${shown}': empty part`);
  // PostgreSQL cannot store NUL in an identifier; refuse rather than let the server truncate it.
  if (part.includes('\0')) throw new UpdraftError(`invalid SQL identifier '${shown}': contains a NUL character`);
  return `"${part.replaceAll('"', '""')}"`;
}

/**
 * A column list for SQL: `"a", "b"` (`t."a", t."b"` with a prefix). Column names are
 * single identifiers even when they contain a dot.
 */
export function quoteColumns(names: readonly string[], prefix = ''): string {
  return names.map((name) => prefix + quoteIdent([name])).join(', ');
}
