import { text } from 'node:stream/consumers';
import { type Command, InvalidArgumentError } from 'commander';
import { generatePassword } from '../../auth/passwords.js';
import { createToken, listTokens, revokeToken, tokenState } from '../../auth/tokens.js';
import { ROLES, type Role } from '../../auth/types.js';
import {
  createUser,
  deleteUser,
  ensureAdmin,
  INITIAL_ADMIN,
  listUsers,
  normalizeUsername,
  parseRole,
  setDisabled,
  setPassword,
  setRole,
} from '../../auth/users.js';
import type { Db } from '../../db/client.js';
import { durationMs, DURATION_HINT } from '../../util/duration.js';
import { cliActor, withDatabase } from '../context.js';
import { formatTable, printJson } from '../output.js';

/**
 * `updraft users` and `updraft tokens`: the people who may use the web UI and API, and
 * their API tokens. Generated passwords and tokens are printed once and stored only hashed.
 */
export function registerUsersCommands(program: Command): void {
  const users = program
    .command('users')
    .description('manage the users of the web UI and API (roles: viewer, operator, admin)');

  users
    .command('create')
    .description('create a user; without --password a password is generated and printed once')
    .argument('<username>', 'login name (case-insensitive)')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`, roleOption('--role'))
    .option('--password <->', "'-' reads the password from stdin (keeps it out of the shell history)", passwordOption)
    .action(async (username: string, opts: { role: Role; password?: '-' }) => {
      const given = opts.password ? await readPassword() : undefined;
      const password = given ?? generatePassword();
      await withDatabase(async ({ db }) => {
        const user = await createUser(db, { username, role: opts.role, password, actor: cliActor() });
        console.log(`user '${user.username}' created with the ${user.role} role`);
        if (!given) printGenerated(user.username, password);
      });
    });

  users
    .command('list')
    .description('list users with their role; passwords are never shown')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const list = await listUsers(db);
        if (opts.json) return printJson(list);
        if (list.length === 0)
          return console.log(
            "no users ('updraft standalone' creates admin; or 'updraft users create <name> --role admin')",
          );
        console.log(
          formatTable(
            ['username', 'role', 'status', 'created'],
            list.map((u) => [u.username, u.role, u.disabled ? 'disabled' : 'active', iso(u.createdAt)]),
          ),
        );
      });
    });

  users
    .command('delete')
    .description('delete a user with its API tokens and sessions')
    .argument('<username>', 'login name')
    .action(async (username: string) => {
      await withDatabase(async ({ db }) => {
        await deleteUser(db, username, cliActor());
        console.log(`user '${normalizeUsername(username)}' deleted`);
      });
    });

  users
    .command('set-password')
    .description(
      "set a user's password and log them out everywhere; without --password one is generated and printed once",
    )
    .argument('<username>', 'login name')
    .option('--password <->', "'-' reads the password from stdin", passwordOption)
    .action(async (username: string, opts: { password?: '-' }) => {
      const given = opts.password ? await readPassword() : undefined;
      const password = given ?? generatePassword();
      await withDatabase(async ({ db }) => {
        await setPassword(db, username, password, cliActor());
        console.log(`password of '${normalizeUsername(username)}' changed`);
        if (!given) printGenerated(normalizeUsername(username), password);
      });
    });

  users
    .command('set-role')
    .description("change a user's role")
    .argument('<username>', 'login name')
    .argument('<role>', `one of ${ROLES.join(', ')}`, roleOption('<role>'))
    .action(async (username: string, role: Role) => {
      await withDatabase(async ({ db }) => {
        const changed = await setRole(db, username, role, cliActor());
        console.log(
          changed
            ? `'${normalizeUsername(username)}' now has the ${role} role`
            : `'${normalizeUsername(username)}' already has the ${role} role`,
        );
      });
    });

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    users
      .command(name)
      .description(
        disabled
          ? 'stop a user from logging in; their sessions end and their API tokens stop working'
          : 'let a disabled user log in again',
      )
      .argument('<username>', 'login name')
      .action(async (username: string) => {
        await withDatabase(async ({ db }) => {
          const changed = await setDisabled(db, username, disabled, cliActor());
          console.log(
            `'${normalizeUsername(username)}' ${changed ? 'is now' : 'already was'} ${disabled ? 'disabled' : 'enabled'}`,
          );
        });
      });
  }

  const tokens = program.command('tokens').description('manage API tokens (Authorization: Bearer <token>)');

  tokens
    .command('create')
    .description("make an API token acting as a user (with the user's role); the token is printed once, on stdout")
    .argument('<username>', 'the user the token acts as')
    .option('--name <name>', 'what the token is for', 'default')
    .option('--expires <duration>', "lifetime such as '30d' or '12h' (default: never)", expiresOption)
    .action(async (username: string, opts: { name: string; expires?: number }) => {
      await withDatabase(async ({ db }) => {
        const created = await createToken(db, {
          username,
          name: opts.name,
          expiresInMs: opts.expires,
          actor: cliActor(),
        });
        console.log(created.token);
        console.error(
          `API token '${created.name}' for '${created.username}' created (id ${created.id}, ${created.expiresAt ? `expires ${iso(created.expiresAt)}` : 'never expires'}); it is shown only this once`,
        );
      });
    });

  tokens
    .command('list')
    .description('list API tokens, newest first (the tokens themselves are never stored)')
    .option('--user <username>', "only this user's tokens")
    .option('--json', 'print JSON')
    .action(async (opts: { user?: string; json?: boolean }) => {
      await withDatabase(async ({ db }) => {
        const now = new Date();
        const list = (await listTokens(db, { username: opts.user })).map((t) => ({ ...t, state: tokenState(t, now) }));
        if (opts.json) return printJson(list);
        if (list.length === 0) return console.log("no API tokens ('updraft tokens create <username>' makes one)");
        console.log(
          formatTable(
            ['id', 'user', 'name', 'state', 'created', 'last used', 'expires'],
            list.map((t) => [
              t.id,
              t.username,
              t.name,
              t.state,
              iso(t.createdAt),
              t.lastUsedAt ? iso(t.lastUsedAt) : '-',
              t.expiresAt ? iso(t.expiresAt) : 'never',
            ]),
          ),
        );
      });
    });

  tokens
    .command('revoke')
    .description('revoke an API token by its id (from `tokens list`)')
    .argument('<id>', 'token id')
    .action(async (id: string) => {
      await withDatabase(async ({ db }) => {
        const revoked = await revokeToken(db, id, cliActor());
        console.log(`API token ${revoked.id} ('${revoked.name}' of '${revoked.username}') revoked`);
      });
    });
}

/**
 * For `standalone`: on a database without users, creates `admin` and prints its generated
 * password, once, as `airflow standalone` does. Later starts print nothing.
 */
export async function announceInitialAdmin(db: Db): Promise<void> {
  const password = await ensureAdmin(db, cliActor());
  if (password === null) return;
  console.log(`Login with username: ${INITIAL_ADMIN}  password: ${password}`);
  console.log(
    `This password is shown only this once; set a new one with 'npx updraft users set-password ${INITIAL_ADMIN}'.`,
  );
}

function printGenerated(username: string, password: string): void {
  console.log(`password: ${password}`);
  console.log(`(shown only this once; change it with 'updraft users set-password ${username}')`);
}

function roleOption(where: string) {
  return (value: string): Role => {
    try {
      return parseRole(value, where);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

function passwordOption(value: string): '-' {
  if (value !== '-')
    throw new InvalidArgumentError(
      "--password takes '-' and reads the password from stdin: a password on the command line would stay in the shell history",
    );
  return value;
}

function expiresOption(value: string): number {
  const ms = durationMs(value);
  if (ms === undefined || ms <= 0)
    throw new InvalidArgumentError(`--expires takes a duration, got '${value}' (${DURATION_HINT})`);
  return ms;
}

/** The password on stdin, without the newline that ends it. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) console.error('password (then Enter and Ctrl-D):');
  return (await text(process.stdin)).replace(/\r?\n$/, '');
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
