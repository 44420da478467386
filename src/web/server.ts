import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { actorOf } from '../auth/index.js';
import { authenticate, authOptions, requireRead, requireUser } from './auth/middleware.js';
import { authRoutes } from './auth/routes.js';
import type { Engine } from '../engine/engine.js';
import { apiRoutes } from './api/index.js';
import { allowedMethods, lastResort, limitBody, notFound, securityHeaders } from './edges.js';
import { healthRoutes } from './health.js';
import { metricsRoutes } from './metrics.js';
import { uiRoutes } from './ui/index.js';

export interface WebServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The HTTP app of this process: who is asking (API token or session cookie, CSRF checked
 * for cookies), login and logout, the web UI's pages, /health, /metrics and the REST API
 * under /api/v1.
 * Reading needs a user when config.authRead is 'closed' (UPDRAFT_AUTH_READ, by default on any
 * address but loopback; config.ts readAccessFor); every change needs an operator. In front of
 * it all: security headers, the body limit, 404/405 and the last-resort errors (edges.ts).
 * `local.token`: on the embedded database, the token standalone shares with the CLI on this
 * machine (src/cli/local-server.ts).
 */
export function webApp(engine: Engine, local: { token?: string } = {}): Hono {
  const db = engine.database.db;
  const options = { ...authOptions(engine.config), localToken: local.token };
  const read = requireRead(options.readOpen);
  const app = new Hono();
  app.use('*', securityHeaders, allowedMethods(app), limitBody);
  app.notFound(notFound);
  app.onError(lastResort(engine.log));
  app.use('*', authenticate(db, options));
  app.route('/', authRoutes(db, options));
  app.route('/', healthRoutes(engine));
  app.route('/', uiRoutes(engine));
  app.use('/metrics', read);
  app.route('/', metricsRoutes(engine));
  app.route(
    '/',
    apiRoutes(db, {
      read,
      operate: requireUser('operator'),
      actor: (c) => {
        const user = c.get('user');
        return user ? actorOf(user) : 'anonymous';
      },
      log: engine.log,
    }),
  );
  return app;
}

/** Starts the HTTP server for this process; `localToken` lets the CLI on this machine in (see webApp). */
export async function startWebServer(
  engine: Engine,
  host: string,
  port: number,
  localToken?: string,
): Promise<WebServer> {
  const app = webApp(engine, { token: localToken });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    port: actualPort,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
