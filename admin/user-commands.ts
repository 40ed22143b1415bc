import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { PasswordHasher } from '../auth/passwords.ts';
import type { Store, User, UserPatch } from '../store/types.ts';
import { checkName, checkPatterns, UsageError } from './validation.ts';

export interface AdminContext {
  readonly store: Store;
  readonly hasher: PasswordHasher;
  /** TOKEN_TTL: how long a user revocation must be kept. */
  readonly tokenTtl: number;
  readonly out: (line: string) => void;
  readonly readStdin: () => Promise<string>;
  readonly now?: () => number;
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

type UserFlags = ReturnType<typeof parseUserArgs>['values'];

function parseUserArgs(args: string[]) {
  try {
    return parseArgs({ args, options: USER_FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function passwordFrom(flags: UserFlags, ctx: AdminContext): Promise<string | undefined> {
  if (flags.password !== undefined && flags['password-stdin'])
    throw new UsageError('use --password or --password-stdin, not both');
  if (flags.password !== undefined) return flags.password;
  if (!flags['password-stdin']) return undefined;
  const password = (await ctx.readStdin()).replace(/\r?\n$/, '');
  if (password === '') throw new UsageError('--password-stdin read an empty password');
  return password;
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

function onlyUsername(positionals: string[], command: string): string {
  if (positionals.length !== 1 || positionals[0] === undefined)
    throw new UsageError(`usage: warden user ${command} <username>`);
  return checkName('username', positionals[0]);
}

/** Revokes every token of the user issued until now, cluster-wide (workers poll the event log). */
async function revokeUser(ctx: AdminContext, user: User): Promise<number> {
  const cutoff = Math.floor((ctx.now ?? Date.now)() / 1000) + 1;
  await ctx.store.updateUser(user.username, { tokensValidFrom: cutoff });
  await ctx.store.appendEvent({
    kind: 'user',
    subject: user.id,
    value: cutoff,
    expiresAt: cutoff + ctx.tokenTtl,
  });
  return cutoff;
}

async function add(ctx: AdminContext, args: string[]): Promise<void> {
  const { values, positionals } = parseUserArgs(args);
  const username = onlyUsername(positionals, 'add');
  const given = await passwordFrom(values, ctx);
  const password = given ?? randomBytes(12).toString('base64url');
  const patch = permissionPatch(values);
  await ctx.store.createUser({
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
}

async function set(ctx: AdminContext, args: string[]): Promise<void> {
  const { values, positionals } = parseUserArgs(args);
  const username = onlyUsername(positionals, 'set');
  const password = await passwordFrom(values, ctx);
  const patch: UserPatch = {
    ...permissionPatch(values),
    ...(password === undefined ? {} : { passwordHash: await ctx.hasher.hash(password) }),
  };
  if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give at least one flag');
  const user = await ctx.store.updateUser(username, patch);
  const nowSeconds = Math.floor((ctx.now ?? Date.now)() / 1000);
  // Connected sockets of this user get a token with the new claims at once.
  await ctx.store.appendEvent({
    kind: 'user-changed',
    subject: user.id,
    value: 0,
    expiresAt: nowSeconds + 300,
  });
  ctx.out(`updated user ${username}`);
}

async function setDisabled(ctx: AdminContext, args: string[], disabled: boolean): Promise<void> {
  const username = onlyUsername(parseUserArgs(args).positionals, disabled ? 'disable' : 'enable');
  const user = await ctx.store.updateUser(username, { disabled });
  if (disabled) await revokeUser(ctx, user);
  ctx.out(`${disabled ? 'disabled' : 'enabled'} user ${username}`);
}

async function revoke(ctx: AdminContext, args: string[]): Promise<void> {
  const username = onlyUsername(parseUserArgs(args).positionals, 'revoke');
  const user = await ctx.store.findUserByUsername(username);
  if (user === null) throw new UsageError(`no user named "${username}"`);
  await revokeUser(ctx, user);
  ctx.out(`revoked every token of ${username}`);
}

async function remove(ctx: AdminContext, args: string[]): Promise<void> {
  const username = onlyUsername(parseUserArgs(args).positionals, 'remove');
  const user = await ctx.store.findUserByUsername(username);
  if (user === null) throw new UsageError(`no user named "${username}"`);
  await revokeUser(ctx, user);
  await ctx.store.removeUser(username);
  ctx.out(`removed user ${username}`);
}

async function list(ctx: AdminContext): Promise<void> {
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
  const header = ['USERNAME', 'STATUS', 'TENANT', 'ROLES', 'PUBLISH', 'SUBSCRIBE', 'INVOKE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [header, ...rows])
    ctx.out(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}

export const USER_USAGE = `usage: warden user <command>
  add <username> [--password-stdin | --password VALUE] [--publish P]... [--subscribe P]... [--invoke P]... [--tenant T] [--role R]...
  set <username> (same flags; --no-tenant clears the tenant)
  list
  disable <username> | enable <username>
  revoke <username>     end every token and socket of the user, cluster-wide
  remove <username>`;

/** `warden user ...`: throws UsageError (exit 2) or a WardenError (exit 1) on failure. */
export async function runUserCommand(ctx: AdminContext, args: string[]): Promise<void> {
  const [command, ...rest] = args;
  switch (command) {
    case 'add':
      return add(ctx, rest);
    case 'set':
      return set(ctx, rest);
    case 'list':
      return list(ctx);
    case 'disable':
      return setDisabled(ctx, rest, true);
    case 'enable':
      return setDisabled(ctx, rest, false);
    case 'revoke':
      return revoke(ctx, rest);
    case 'remove':
      return remove(ctx, rest);
    default:
      throw new UsageError(USER_USAGE);
  }
}
