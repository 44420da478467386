/**
 * What the UI's pages read from a request, checked in one place before any page uses it:
 * every path segment, query value and form field must be text PostgreSQL can store (no
 * NUL, no unpaired surrogate; src/util/input.ts), and a form must be readable (a multipart
 * body without its boundary is not). Numbers in query strings go through `queryInt`.
 * A refusal is an InputError, which the pages show as a 400 page naming the input.
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { InputError } from '../../errors.js';
import { INT4_MAX, isUnstorableText, parseInt4, TEXT_RULE } from '../../util/input.js';
import { errorPage } from './pages/kit.js';

const FORM = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/** The first input of the request that PostgreSQL could not store, as [its name, where it is]. */
async function unstorableInput(c: Context): Promise<string | undefined> {
  if (isUnstorableText(c.req.path)) return 'the path';
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (isUnstorableText(name) || values.some(isUnstorableText)) return `query parameter '${name}'`;
  }
  if (c.req.method === 'POST' && FORM.test(c.req.header('content-type') ?? '')) {
    let form: Record<string, unknown>;
    try {
      // Hono keeps the parsed body: the page reads it again for free.
      form = await c.req.parseBody();
    } catch (error) {
      throw new InputError(`the form could not be read: ${(error as Error).message}`, 'form');
    }
    for (const [name, value] of Object.entries(form)) {
      if (isUnstorableText(name) || (typeof value === 'string' && isUnstorableText(value)))
        return `form field '${name}'`;
    }
  }
  return undefined;
}

/** For every UI request (paths outside /api): a 400 page for an input the pages could not store or read. */
export const checkUiInput = createMiddleware(async (c, next) => {
  if (c.req.path.startsWith('/api/')) return next();
  let where: string | undefined;
  try {
    where = await unstorableInput(c);
  } catch (error) {
    if (error instanceof InputError) return errorPage(c, 400, error.message);
    throw error;
  }
  if (where) return errorPage(c, 400, `${where} ${TEXT_RULE}`);
  return next();
});

/**
 * An integer query parameter (`?page=3`) from `min` to `max` (default PostgreSQL's int4);
 * `fallback` when absent or empty, an InputError naming it when it is anything else.
 */
export function queryInt(value: string | undefined, name: string, fallback: number, min = 1, max = INT4_MAX): number {
  return value === undefined || value === '' ? fallback : parseInt4(value, name, { min, max });
}
