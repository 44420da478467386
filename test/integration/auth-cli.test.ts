/**
 * `updraft users`, `updraft tokens`, and the admin `standalone` makes on its first start.
 * Children run against this file's database; the tests build on each other in order.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { desc } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { authenticatePassword } from '../../src/auth/users.js';
import { authenticateToken } from '../../src/auth/tokens.js';
import { auditLog } from '../../src/db/schema.js';
import { CLI_TEST_TIMEOUT, type CliResult, ROOT, STACK_FRAME, table, useCli } from '../support/cli.js';
import { startUpdraft, stopAll } from '../support/process.js';

const { updraft, setup } = useCli({});
afterAll(stopAll);

const GENERATED = /password: ([a-z2-9]{5}(?:-[a-z2-9]{5}){3})/;

/** `updraft <args>` with `input` on its stdin (runUpdraft has none). */
function updraftWithInput(args: string[], input: string): Promise<CliResult> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'updraft.mjs'), ...args], {
    cwd: ROOT,
    env: {
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('UPDRAFT_') && k !== 'DATABASE_URL'),
      ),
      UPDRAFT_ENV_FILE: '',
      ...setup().env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

async function withChildDatabase<T>(
  fn: (db: Awaited<ReturnType<ReturnType<typeof setup>['child']['open']>>['db']) => Promise<T>,
): Promise<T> {
  const database = await setup().child.open();
  try {
    return await fn(database.db);
  } finally {
    await database.close();
  }
}

describe('standalone', () => {
  it('creates admin on its first start and prints the password once; later starts print none', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const env = { ...setup().env, UPDRAFT_ENV_FILE: '', UPDRAFT_PORT: '0', UPDRAFT_CONCURRENCY: '1' };
    const first = startUpdraft(['standalone'], env);
    await first.ready;
    expect(await first.stop()).toMatchObject({ code: 0 });
    const password = /Login with username: admin {2}password: (\S+)\n/.exec(first.output())?.[1];
    expect(password, first.output()).toBeDefined();
    expect(first.output()).toContain("shown only this once; set a new one with 'npx updraft users set-password admin'");

    const second = startUpdraft(['standalone'], env);
    await second.ready;
    expect(await second.stop()).toMatchObject({ code: 0 });
    expect(second.output()).not.toContain('Login with username');
    expect(second.output()).not.toContain(password);

    await withChildDatabase(async (db) => {
      expect(await authenticatePassword(db, 'admin', password!)).toMatchObject({ role: 'admin' });
    });
  });
});

describe('updraft users', () => {
  it('creates a user with a generated password printed once, or one read from stdin', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const created = await updraft(['users', 'create', 'Alice', '--role', 'operator']);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain("user 'alice' created with the operator role\npassword: ");
    const generated = GENERATED.exec(created.stdout)![1]!;

    const fromStdin = await updraftWithInput(
      ['users', 'create', 'bob', '--role', 'viewer', '--password', '-'],
      'b0b-password-123\n',
    );
    expect(fromStdin).toMatchObject({ code: 0, stdout: "user 'bob' created with the viewer role\n" });

    const listed = await updraft(['users', 'list']);
    expect(table(listed.stdout).map((r) => r.slice(0, 3))).toEqual([
      ['username', 'role', 'status'],
      ['admin', 'admin', 'active'],
      ['alice', 'operator', 'active'],
      ['bob', 'viewer', 'active'],
    ]);
    const json = await updraft(['users', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ username: 'bob', role: 'viewer', disabled: false })]),
    );
    expect(json.stdout).not.toContain('scrypt');

    await withChildDatabase(async (db) => {
      expect(await authenticatePassword(db, 'alice', generated)).toMatchObject({ role: 'operator' });
      expect(await authenticatePassword(db, 'bob', 'b0b-password-123')).toMatchObject({ role: 'viewer' });
      const audit = await db.select().from(auditLog).orderBy(desc(auditLog.at));
      expect(
        audit.find((a) => a.action === 'user.create' && (a.details as { username: string }).username === 'bob')!.actor,
      ).toMatch(/^cli:/);
      const text = JSON.stringify(audit);
      expect(text).not.toContain(generated);
      expect(text).not.toContain('b0b-password-123');
    });
  });

  it('names the flag, role or user that is wrong', { timeout: CLI_TEST_TIMEOUT }, async () => {
    const role = await updraft(['users', 'create', 'carol', '--role', 'root']);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain("--role must be one of viewer, operator, admin, got 'root'");
    const literal = await updraft(['users', 'create', 'carol', '--role', 'viewer', '--password', 'hunter22']);
    expect(literal.code).toBe(2);
    expect(literal.stderr).toContain("--password takes '-'");
    const unknown = await updraft(['users', 'set-role', 'ghost', 'admin']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("updraft: no user named 'ghost'");
    expect(unknown.stderr).not.toMatch(STACK_FRAME);
    const taken = await updraft(['users', 'create', 'ALICE', '--role', 'viewer']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain("user 'alice' already exists");
  });

  it('changes a role and refuses to remove the last admin', { timeout: CLI_TEST_TIMEOUT }, async () => {
    expect(await updraft(['users', 'set-role', 'bob', 'operator'])).toMatchObject({
      code: 0,
      stdout: "'bob' now has the operator role\n",
    });
    const last = await updraft(['users', 'delete', 'admin']);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain("cannot delete 'admin': it is the last admin");
  });
});

describe('updraft tokens', () => {
  it('prints a token once on stdout, lists it without the secret, and revokes it', {
    timeout: CLI_TEST_TIMEOUT,
  }, async () => {
    const created = await updraft(['tokens', 'create', 'alice', '--name', 'ci', '--expires', '30d']);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^updr_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(
      /API token 'ci' for 'alice' created \(id [0-9a-f-]{36}, expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); it is shown only this once/,
    );

    const listed = await updraft(['tokens', 'list', '--user', 'alice', '--json']);
    const [info] = JSON.parse(listed.stdout) as Array<{ id: string; name: string; state: string; expiresAt: string }>;
    expect(info).toMatchObject({ name: 'ci', state: 'active' });
    expect(listed.stdout).not.toContain(token);
    await withChildDatabase(async (db) => {
      expect(await authenticateToken(db, token)).toMatchObject({ username: 'alice', via: 'token' });
    });

    expect(await updraft(['tokens', 'revoke', info!.id])).toMatchObject({
      code: 0,
      stdout: `API token ${info!.id} ('ci' of 'alice') revoked\n`,
    });
    const after = await updraft(['tokens', 'list']);
    expect(table(after.stdout)[1]!.slice(0, 4)).toEqual([info!.id, 'alice', 'ci', 'revoked']);
    await withChildDatabase(async (db) => {
      expect(await authenticateToken(db, token)).toBeNull();
      expect(JSON.stringify(await db.select().from(auditLog))).not.toContain(token);
    });

    const badExpiry = await updraft(['tokens', 'create', 'alice', '--expires', 'soon']);
    expect(badExpiry.code).toBe(2);
    expect(badExpiry.stderr).toContain("--expires takes a duration, got 'soon'");
    const again = await updraft(['tokens', 'revoke', info!.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('was already revoked');
  });
});
