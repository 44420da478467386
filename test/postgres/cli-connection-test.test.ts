/**
 * `updraft connections test` against a server that answers: it prints the server's version.
 * PostgreSQL only: the connection tested is this file's own database.
 */
import { describe, expect, it } from 'vitest';
import { CLI_TEST_TIMEOUT, useCli } from '../support/cli.js';

const { updraft, setup } = useCli({});

describe('updraft connections test', () => {
  it('prints the version of the server it reached', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const result = await updraft(['connections', 'test', 'self'], { UPDRAFT_CONN_SELF: setup().env.DATABASE_URL! });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^connection 'self' works: PostgreSQL \d+\.\d+.* \(\d+ ms\)\n$/);
  });
});
