/**
 * Why `value` cannot be stored as JSON without changing its meaning, or undefined
 * when it can. Stricter than JSON.stringify, which silently drops functions and
 * symbols, turns NaN and undefined array items into null, Maps and Sets into {}, and
 * Dates into strings: a downstream task would then get something other than what
 * its `ctx.pull` type says. Undefined object properties are fine (absent either way),
 * and so are repeated references to the same object (only cycles are refused).
 */
export function jsonProblem(value: unknown): string | undefined {
  try {
    return check(value, 'the result', new Set());
  } catch (error) {
    if (error instanceof RangeError) return 'it is nested too deeply';
    throw error;
  }
}

function check(value: unknown, path: string, parents: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
      return storableText(value)
        ? undefined
        : `${path} has a NUL character or an unpaired surrogate, which PostgreSQL cannot store`;
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value} (JSON has no NaN or Infinity)`;
    case 'bigint':
      return `${path} is a bigint (${value}n); return it as a string or a number`;
    case 'function':
      return `${path} is a function`;
    case 'symbol':
      return `${path} is a symbol`;
    case 'undefined':
      // Only reached for array items: JSON would turn them into null.
      return `${path} is undefined (JSON would store null); use null`;
  }
  if (value === null) return undefined;
  const object = value as object;
  if (parents.has(object)) return `${path} refers back to an enclosing value (a cycle)`;
  if (Array.isArray(object)) {
    parents.add(object);
    for (let i = 0; i < object.length; i++) {
      const problem = check(object[i], `${path}[${i}]`, parents);
      if (problem) return problem;
    }
    parents.delete(object);
    return undefined;
  }
  const proto: unknown = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) return `${path} is ${describeInstance(object)}`;
  if (Object.getOwnPropertySymbols(object).length > 0) return `${path} has symbol keys`;
  parents.add(object);
  for (const [key, item] of Object.entries(object)) {
    if (item === undefined) continue;
    if (!storableText(key))
      return `${path} has a key with a NUL character or an unpaired surrogate, which PostgreSQL cannot store`;
    const problem = check(item, `${path}${propertyPath(key)}`, parents);
    if (problem) return problem;
  }
  parents.delete(object);
  return undefined;
}

function describeInstance(object: object): string {
  if (object instanceof Date) return 'a Date; return date.toISOString()';
  if (object instanceof Map) return 'a Map; use a plain object or an array of [key, value] pairs';
  if (object instanceof Set) return 'a Set; use an array';
  const name = (object.constructor as { name?: unknown } | undefined)?.name;
  return `an instance of ${typeof name === 'string' && name ? name : 'a class'}; return a plain object`;
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** PostgreSQL's json and text types hold neither NUL nor unpaired UTF-16 surrogates. */
export function storableText(text: string): boolean {
  return !text.includes('\0') && text.isWellFormed();
}

/** `text` made storable: NUL shown as \\0, unpaired surrogates replaced (for log lines). */
export function toStorableText(text: string): string {
  return storableText(text) ? text : text.replaceAll('\0', '\\0').toWellFormed();
}

/**
 * `value` as it reads back from a jsonb column: JSON's meaning, with each object's keys in
 * jsonb's order (shorter keys first, then bytewise by UTF-8), as node-postgres and PGlite
 * hand them back. A downstream task given an upstream result from memory then sees exactly
 * what it would have read from the database. `value` must have passed jsonProblem.
 */
export function asStoredJson(value: unknown): unknown {
  return value === undefined ? undefined : jsonbOrder(JSON.parse(JSON.stringify(value)));
}

function jsonbOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonbOrder);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value).map((key) => ({ key, bytes: Buffer.from(key, 'utf8') }));
  keys.sort((a, b) => a.bytes.length - b.bytes.length || Buffer.compare(a.bytes, b.bytes));
  const ordered: Record<string, unknown> = {};
  for (const { key } of keys) ordered[key] = jsonbOrder((value as Record<string, unknown>)[key]);
  return ordered;
}
