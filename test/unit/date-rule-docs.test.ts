/** The one date rule (DATE_INPUT_RULE) is said in the same words by the README and every doc that tells how a typed date is read. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DATE_INPUT_RULE } from '../../src/schedule/index.js';

const DOCS = ['README.md', 'docs/api.md', 'docs/ui.md', 'docs/scheduling.md', 'docs/backfill.md'];

describe('the date rule in the docs', () => {
  it.each(DOCS)('%s states DATE_INPUT_RULE word for word', async (file) => {
    const text = (await readFile(new URL(`../../${file}`, import.meta.url), 'utf8')).replace(/\s+/g, ' ');
    expect(text).toContain(DATE_INPUT_RULE);
  });
});
