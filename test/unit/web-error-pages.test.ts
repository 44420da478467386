/**
 * The last-resort error answer (src/web/edges.ts): an HTTPException keeps its status, and
 * the page it shows has a title for it.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { lastResort } from '../../src/web/edges.js';

describe('error pages', () => {
  it('titles every status the pages can answer, a 401 or 403 of an HTTPException too', async () => {
    const app = new Hono();
    app.onError(lastResort({ error: () => {} }));
    app.get('/ui/status/:code', (c) => {
      throw new HTTPException(Number(c.req.param('code')) as 401, { message: 'refused here' });
    });
    const titles: Record<number, string> = {
      400: 'Bad request',
      401: 'Login required',
      403: 'Not allowed',
      404: 'Not found',
      405: 'Method not allowed',
      409: 'Conflict',
      413: 'Request too large',
      418: "I'm a Teapot",
    };
    for (const [code, title] of Object.entries(titles)) {
      const res = await app.request(`/ui/status/${code}`);
      const html = await res.text();
      expect({ code, status: res.status, title: /<title>(.*?)<\/title>/.exec(html)?.[1] }).toEqual({
        code,
        status: Number(code),
        title: `${title.replace("'", '&#39;')} · Updraft`,
      });
      expect(html).toContain('refused here');
    }
  });
});
