/**
 * `updraft connections`: stored connections are encrypted at rest, masked wherever they
 * are printed, audited, and the environment's win. Children run against this file's
 * database; the tests build on each other in order.
 */
import { desc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLog, connections } from '../../src/db/schema.js';
import { CLI_TEST_TIMEOUT, STACK_FRAME, table, unreachableDatabaseUrl, useCli } from '../support/cli.js';

const KEY = 'test-secret-key-0123456789';
const PASSWORD = 'hunter2-s3cret';
const { updraft, setup } = useCli({});
const withKey = { UPDRAFT_SECRET_KEY: KEY };

describe('updraft connections', () => {
  it('refuses to store a connection without UPDRAFT_SECRET_KEY, saying how to make one', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const result = await updraft(['connections', 'add', 'shop', `postgres://app:${PASSWORD}@db.example:5432/shop`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('UPDRAFT_SECRET_KEY is not set');
    expect(result.stderr).toContain('updraft connections generate-key');
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(result.stderr + result.stdout).not.toContain(PASSWORD);
  });

  it('stores it encrypted, lists it masked, and audits the change', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const added = await updraft(
      ['connections', 'add', 'shop', `postgres://app:${PASSWORD}@db.example:5432/shop`, '--description', 'the shop'],
      withKey,
    );
    expect(added).toMatchObject({
      code: 0,
      stdout: "connection 'shop' stored: postgres://app:***@db.example:5432/shop\n",
    });

    const listed = await updraft(['connections', 'list'], {
      ...withKey,
      UPDRAFT_CONN_WAREHOUSE: `postgres://wh:${PASSWORD}@wh.example/wh`,
    });
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(PASSWORD);
    expect(table(listed.stdout).slice(1)).toEqual([
      ['shop', 'postgres://app:***@db.example:5432/shop', 'database', 'the shop'],
      ['warehouse', 'postgres://wh:***@wh.example/wh', 'environment', 'from UPDRAFT_CONN_WAREHOUSE'],
    ]);

    const database = await setup().child.open();
    try {
      const [row] = await database.db.select().from(connections).where(eq(connections.name, 'shop'));
      expect(row!.urlEncrypted).not.toContain(PASSWORD);
      expect(row!.urlEncrypted).toMatch(/^v1\./);
      const [audit] = await database.db.select().from(auditLog).orderBy(desc(auditLog.at)).limit(1);
      expect(audit).toMatchObject({
        action: 'connection.add',
        details: { name: 'shop', url: 'postgres://app:***@db.example:5432/shop' },
      });
      expect(audit!.actor).toMatch(/^cli:/);
    } finally {
      await database.close();
    }
  });

  it('cannot decrypt with another key, and says so without the secret', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const result = await updraft(['connections', 'test', 'shop'], { UPDRAFT_SECRET_KEY: 'another-key-entirely-0000' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("connection 'shop': cannot decrypt the stored secret with this UPDRAFT_SECRET_KEY");
  });

  it('tests a connection: a clear masked error when the server is unreachable', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const url = (await unreachableDatabaseUrl()).replace('updraft@', `updraft:${PASSWORD}@`);
    const result = await updraft(['connections', 'test', 'down'], { UPDRAFT_CONN_DOWN: url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /connection 'down' \(postgres:\/\/updraft:\*\*\*@127\.0\.0\.1:\d+\/updraft\): .*ECONNREFUSED/,
    );
    expect(result.stderr).not.toContain(PASSWORD);
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });

  it('deletes a stored connection (audited) and names an unknown one', { timeout: CLI_TEST_TIMEOUT }, async () => {
    expect(await updraft(['connections', 'delete', 'shop'], withKey)).toMatchObject({
      code: 0,
      stdout: "connection 'shop' deleted\n",
    });
    const again = await updraft(['connections', 'delete', 'shop'], withKey);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("no stored connection named 'shop'");
    const database = await setup().child.open();
    try {
      const actions = (await database.db.select().from(auditLog).orderBy(desc(auditLog.at))).map((a) => a.action);
      expect(actions.slice(0, 2)).toEqual(['connection.delete', 'connection.add']);
    } finally {
      await database.close();
    }
  });

  it('rejects a bad name or URL naming what is wrong', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const name = await updraft(['connections', 'add', '9lives', 'postgres://x@y/z'], withKey);
    expect(name).toMatchObject({ code: 1 });
    expect(name.stderr).toContain("invalid connection name '9lives'");
    const url = await updraft(['connections', 'add', 'shop', `mysql://root:${PASSWORD}@db/x`], withKey);
    expect(url.code).toBe(1);
    expect(url.stderr).toContain(
      "connection 'shop': expected a postgres://user:password@host:port/database URL (the value given is not shown: it may hold a password)",
    );
    expect(url.stderr).not.toContain(PASSWORD);
    // A libpq keyword string is not a URL either, and its password is never echoed.
    const keywords = await updraft(['connections', 'list'], { UPDRAFT_CONN_RAW: `host=db password=${PASSWORD}` });
    expect(keywords.code).toBe(0);
    expect(keywords.stdout + keywords.stderr).not.toContain(PASSWORD);
  });
});
