/**
 * The web UI: server-rendered pages (hono/jsx) under / and /ui, made live by
 * static/live.js, which re-fetches the page's `data-live` fragments whenever
 * /ui/events (Server-Sent Events fed by LISTEN/NOTIFY) says something changed.
 * Each group of pages is a module that returns a Hono app; they are mounted here.
 */
import { Hono } from 'hono';
import type { Engine } from '../../engine/engine.js';
import { checkUiInput } from './input.js';
import { liveRoutes } from './live.js';
import { backfillPages } from './pages/backfills.js';
import { dagPages } from './pages/dags.js';
import { datasetPages } from './pages/datasets.js';
import { loginPages } from './pages/login.js';
import { miscPages } from './pages/misc.js';
import { runPages } from './pages/runs.js';

export function uiRoutes(engine: Engine): Hono {
  const app = new Hono();
  app.use('*', checkUiInput);
  app.route('/', liveRoutes(engine));
  app.route('/', loginPages(engine));
  app.route('/', dagPages(engine));
  app.route('/', runPages(engine));
  app.route('/', backfillPages(engine));
  app.route('/', miscPages(engine));
  app.route('/', datasetPages(engine));
  return app;
}
