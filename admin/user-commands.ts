import { audit } from '../log/audit.ts';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { PasswordHasher } from '../auth/passwords.ts';
import { WardenError } from '../errors/catalogue.ts';
import type { Store, User, UserPatch } from '../store/types.ts';
import { checkName, checkPassword, checkPatterns, tenantWarnings, UsageError } from './validation.ts';
import { printTable } from './table.ts';

export interface AdminContext {
  readonly store: Store;
  readonly hasher: PasswordHasher;
  /** TOKEN_TTL: how long a user revocation must be kept. */
  readonly tokenTtl: number;
  readonly out: (line: string) => void;
  /** A warning for the operator (stderr); the command still succeeds. */
  readonly warn: (line: string) => void;
  readonly now?: () => number;
}

/** What parsing a command needs besides its arguments. */
export interface CommandInput {
  /** PASSWORD_MIN_LENGTH, for passwords the operator gives. */
  readonly passwordMinLength: number;
  /** Read only for --password-stdin. */
  readonly readStdin: () => Promise<string>;
}

/**
 * A parsed `warden user ...` command. Its arguments (and a password from stdin) are checked before
 * the store is opened, so a usage error never opens or creates a store; `createsStore` says whether it may create a missing
 * SQLite file (only `user add` may: every other one needs users to be there already).
 */
export interface UserCommand {
  readonly createsStore: boolean;
  run(ctx: AdminContext): Promise<void>;
}

const USER_FLAGS = {
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  publish: { type: 'string', multiple: true },
  subscribe: { type: 'string', multiple: true },
  invoke: { type: 'string', multiple: true },
  tenant: { type: 'string' },
  'no-tenant': { type: 'boolean' },
  role: { type: 'string', multiple: true },
} as const;

type UserFlags = ReturnType<typeof parseUserFlags>['values'];

/** node:util's parseArgs, with its errors as one-line usage errors that name the command. */
export function parseCommandArgs<Options extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(
  command: string,
  args: string[],
  options: Options,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const { code } = error as { code?: string };
    const option = /'([^']+)'/.exec((error as Error).message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined)
      throw new UsageError(`unknown option "${option}" for warden ${command}`);
    throw new UsageError(`warden ${command}: ${(error as Error).message}`);
  }
}

function parseUserFlags(command: string, args: string[]) {
  return parseCommandArgs(`user ${command}`, args, USER_FLAGS);
}

/** Exactly one positional, the username, and no options. */
function usernameOnly(command: string, args: string[]): string {
  return onlyUsername(parseCommandArgs(`user ${command}`, args, {}).positionals, command);
}

function onlyUsername(positionals: string[], command: string): string {
  if (positionals.length !== 1 || positionals[0] === undefined)
    throw new UsageError(`usage: warden user ${command} <username>`);
  return checkName('username', positionals[0]);
}

async function passwordFrom(flags: UserFlags, input: CommandInput): Promise<string | undefined> {
  if (flags.password !== undefined && flags['password-stdin'])
    throw new UsageError('use --password or --password-stdin, not both');
  if (flags.password !== undefined) return checkPassword(flags.password, input.passwordMinLength);
  if (!flags['password-stdin']) return undefined;
  const password = (await input.readStdin()).replace(/\r?\n$/, '');
  if (password === '') throw new UsageError('--password-stdin read an empty password');
  return checkPassword(password, input.passwordMinLength);
}

function permissionPatch(flags: UserFlags): UserPatch {
  const patch: { -readonly [K in keyof UserPatch]: UserPatch[K] } = {};
  if (flags.publish) patch.publish = checkPatterns('publish', flags.publish);
  if (flags.subscribe) patch.subscribe = checkPatterns('subscribe', flags.subscribe);
  if (flags.invoke) patch.invoke = checkPatterns('invoke', flags.invoke);
  if (flags.role) patch.roles = flags.role.map((role) => checkName('role', role));
  if (flags.tenant !== undefined && flags['no-tenant'])
    throw new UsageError('use --tenant or --no-tenant, not both');
  if (flags.tenant !== undefined) patch.tenant = checkName('tenant', flags.tenant);
  if (flags['no-tenant']) patch.tenant = null;
  return patch;
}

function warnAboutTenant(ctx: AdminContext, user: User): void {
  for (const warning of tenantWarnings(user)) ctx.warn(`warning: ${warning}`);
}

/** The user, or UserNotFoundError (exit 1: a failure, not a usage error). */
async function existingUser(ctx: AdminContext, username: string): Promise<User> {
  const user = await ctx.store.findUserByUsername(username);
  if (user === null) throw new WardenError('UserNotFoundError', `no user named "${username}"`);
  return user;
}

/** Revokes every token of the user issued until now, cluster-wide (workers poll the event log). */
async function revokeUser(ctx: AdminContext, user: User, reason: string): Promise<number> {
  const cutoff = Math.floor((ctx.now ?? Date.now)() / 1000) + 1;
  await ctx.store.updateUser(user.username, { tokensValidFrom: cutoff });
  await ctx.store.appendEvent({
    kind: 'user',
    subject: user.id,
    value: cutoff,
    expiresAt: cutoff + ctx.tokenTtl,
  });
  audit('revocation', { kind: 'user', by: 'cli', reason, username: user.username, sub: user.id });
  return cutoff;
}

async function add(args: string[], input: CommandInput): Promise<UserCommand> {
  const { values, positionals } = parseUserFlags('add', args);
  const username = onlyUsername(positionals, 'add');
  const patch = permissionPatch(values);
  const given = await passwordFrom(values, input);
  return {
    createsStore: true,
    async run(ctx) {
      const password = given ?? randomBytes(12).toString('base64url');
      const user = await ctx.store.createUser({
        username,
        passwordHash: await ctx.hasher.hash(password),
        tenant: patch.tenant ?? null,
        roles: patch.roles ?? [],
        publish: patch.publish ?? [],
        subscribe: patch.subscribe ?? [],
        invoke: patch.invoke ?? [],
      });
      ctx.out(`created user ${username}`);
      if (given === undefined) ctx.out(`password: ${password}`);
      warnAboutTenant(ctx, user);
    },
  };
}

async function set(args: string[], input: CommandInput): Promise<UserCommand> {
  const { values, positionals } = parseUserFlags('set', args);
  const username = onlyUsername(positionals, 'set');
  const permissions = permissionPatch(values);
  const password = await passwordFrom(values, input);
  if (Object.keys(permissions).length === 0 && password === undefined)
    throw new UsageError('nothing to change: give at least one flag');
  return {
    createsStore: false,
    async run(ctx) {
      const patch: UserPatch = {
        ...permissions,
        ...(password === undefined ? {} : { passwordHash: await ctx.hasher.hash(password) }),
      };
      const user = await ctx.store.updateUser(username, patch);
      const nowSeconds = Math.floor((ctx.now ?? Date.now)() / 1000);
      // Connected sockets of this user get a token with the new claims at once.
      await ctx.store.appendEvent({
        kind: 'user-changed',
        subject: user.id,
        value: 0,
        expiresAt: nowSeconds + 300,
      });
      // Names of what changed only: never the password or its hash.
      const changed = Object.keys(patch).map((key) => (key === 'passwordHash' ? 'password' : key));
      audit('permissions_changed', { by: 'cli', username, sub: user.id, changed });
      ctx.out(`updated user ${username}`);
      warnAboutTenant(ctx, user);
    },
  };
}

function setDisabled(args: string[], disabled: boolean): UserCommand {
  const username = usernameOnly(disabled ? 'disable' : 'enable', args);
  return {
    createsStore: false,
    async run(ctx) {
      const user = await ctx.store.updateUser(username, { disabled });
      if (disabled) await revokeUser(ctx, user, 'disabled');
      ctx.out(`${disabled ? 'disabled' : 'enabled'} user ${username}`);
    },
  };
}

function revoke(args: string[]): UserCommand {
  const username = usernameOnly('revoke', args);
  return {
    createsStore: false,
    async run(ctx) {
      await revokeUser(ctx, await existingUser(ctx, username), 'revoked');
      ctx.out(`revoked every token of ${username}`);
    },
  };
}

function remove(args: string[]): UserCommand {
  const username = usernameOnly('remove', args);
  return {
    createsStore: false,
    async run(ctx) {
      await revokeUser(ctx, await existingUser(ctx, username), 'removed');
      await ctx.store.removeUser(username);
      ctx.out(`removed user ${username}`);
    },
  };
}

function list(args: string[]): UserCommand {
  const { positionals } = parseCommandArgs('user list', args, {});
  if (positionals.length > 0)
    throw new UsageError(`warden user list takes no arguments (got "${positionals[0]}")`);
  return {
    createsStore: false,
    async run(ctx) {
      const users = await ctx.store.listUsers();
      const rows = users.map((u) => [
        u.username,
        u.disabled ? 'disabled' : 'active',
        u.tenant ?? '-',
        u.roles.join(',') || '-',
        u.publish.join(',') || '-',
        u.subscribe.join(',') || '-',
        u.invoke.join(',') || '-',
      ]);
      printTable(ctx.out, ['USERNAME', 'STATUS', 'TENANT', 'ROLES', 'PUBLISH', 'SUBSCRIBE', 'INVOKE'], rows);
    },
  };
}

export const USER_USAGE = `usage: warden user <command>
  add <username> [--password-stdin | --password VALUE] [--publish P]... [--subscribe P]... [--invoke P]... [--tenant T] [--role R]...
  set <username> (same flags; --no-tenant clears the tenant)
  list
  disable <username> | enable <username>
  revoke <username>     end every token and socket of the user, cluster-wide
  remove <username>`;

/**
 * Parses `warden user ...`: throws UsageError (exit 2) for anything malformed; the command's run
 * throws a WardenError (exit 1) when it fails.
 *
 * @example
 *   const command = await parseUserCommand(['revoke', 'dana'], { passwordMinLength: 10, readStdin });
 *   await command.run(ctx);
 */
export async function parseUserCommand(args: string[], input: CommandInput): Promise<UserCommand> {
  const [command, ...rest] = args;
  switch (command) {
    case 'add':
      return add(rest, input);
    case 'set':
      return set(rest, input);
    case 'list':
      return list(rest);
    case 'disable':
      return setDisabled(rest, true);
    case 'enable':
      return setDisabled(rest, false);
    case 'revoke':
      return revoke(rest);
    case 'remove':
      return remove(rest);
    default:
      throw new UsageError(
        command === undefined ? USER_USAGE : `unknown command "user ${command}"\n${USER_USAGE}`,
      );
  }
}
