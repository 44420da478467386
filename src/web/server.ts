import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Engine } from '../engine/engine.js';
import { healthRoutes } from './health.js';

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** Starts the HTTP server for this process (the health endpoint for now). */
export async function startWebServer(engine: Engine, host: string, port: number): Promise<WebServer> {
  const app = new Hono();
  app.route('/', healthRoutes(engine));
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
