/**
 * The one error body of the HTTP API, after RFC 9457 (problem details), as Airflow's
 * stable API uses: { type, title, status, detail } and, for a bad input, the `field`.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface Problem {
  type: 'about:blank';
  title: string;
  status: number;
  detail: string;
  /** The input field that was wrong (`conf.limit`, `state`, `page_size`). */
  field?: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(c: Context, status: ContentfulStatusCode, detail: string, field?: string): Response {
  const body: Problem = {
    type: 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(field ? { field } : {}),
  };
  return c.json(body, status, { 'content-type': 'application/problem+json' });
}
