/**
 * What every response of the web server shares, whatever route answers: security
 * headers, a cap on request bodies, 404 and 405 for paths and methods no route declares
 * (a problem body under /api, a page elsewhere), and the last-resort error answer. The
 * routes validate their own input (src/web/api/common.ts, src/web/ui/input.ts); an input
 * PostgreSQL still refuses (SQLSTATE class 22) is a 400 here, never a 500.
 */
import type { Context, ErrorHandler, Hono, MiddlewareHandler, NotFoundHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { secureHeaders } from 'hono/secure-headers';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { describeError, refusedValueMessage } from '../db/errors.js';
import { errorFields, type Logger } from '../log.js';
import { problem } from './problem.js';
import { errorPage } from './ui/pages/kit.js';

/** The largest request body read (1 MiB): a conf or a form is far smaller. */
export const MAX_BODY_BYTES = 1024 * 1024;

const isApi = (c: Context) => c.req.path === '/api' || c.req.path.startsWith('/api/');

/**
 * No framing (X-Frame-Options DENY and CSP frame-ancestors 'none'), nosniff, a same-origin
 * referrer policy. The CSP leaves scripts and styles alone: the pages use an inline <style>
 * and inline confirm() handlers (onsubmit), which a script-src would block.
 */
export const securityHeaders: MiddlewareHandler = secureHeaders({
  xFrameOptions: 'DENY',
  referrerPolicy: 'same-origin',
  // Plain HTTP on an internal network is common; HSTS belongs to the TLS proxy in front, if any.
  strictTransportSecurity: false,
  contentSecurityPolicy: {
    frameAncestors: ["'none'"],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
  },
});

export const limitBody: MiddlewareHandler = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) => {
    // The rest of the body is not read: the connection cannot carry another request.
    c.header('Connection', 'close');
    return answer(c, 413, `the request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
  },
});

/** A problem body under /api, a page elsewhere. */
function answer(c: Context, status: ContentfulStatusCode, detail: string): Response | Promise<Response> {
  return isApi(c) ? problem(c, status, detail) : errorPage(c, status, detail);
}

/** 405 with an Allow header for a method no route of the path declares. */
export function allowedMethods(app: Hono): MiddlewareHandler {
  return methodNotAllowed({
    app,
    onMethodNotAllowed: async (c, methods) => {
      const res = await answer(c, 405, `${c.req.method} is not allowed here; allowed: ${methods.join(', ')}`);
      res.headers.set('Allow', methods.join(', '));
      return res;
    },
  });
}

export const notFound: NotFoundHandler = (c) => answer(c, 404, `nothing at ${c.req.path}`);

/** The last resort: an HTTPException below 500 keeps its status, a refused value is a 400, anything else a 500 (logged). */
export function lastResort(log: Pick<Logger, 'error'>): ErrorHandler {
  return (error, c) => {
    if (error instanceof HTTPException && error.status < 500)
      return answer(c, error.status, error.message || 'bad request');
    const refused = refusedValueMessage(error);
    if (refused) return answer(c, 400, refused);
    log.error({ ...errorFields(error), path: c.req.path }, `web request failed: ${describeError(error)}`);
    return answer(c, 500, 'internal error; the server log has the details');
  };
}
