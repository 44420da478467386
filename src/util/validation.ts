import { z } from 'zod';
import { DURATION_HINT, durationMs } from './duration.js';

/** Turns zod issues into one line per problem, each naming the field: "retries: expected a number". */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      const message =
        issue.code === 'unrecognized_keys'
          ? `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`
          : issue.message;
      return path ? `${path}: ${message}` : message;
    })
    .join('; ');
}

/** A duration field: '30s', '5m', '1h30m' or milliseconds, compiled to milliseconds. */
export const durationField = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = durationMs(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(value)} (${DURATION_HINT})` });
    return z.NEVER;
  }
  return ms;
});
