import { audit } from '../log/audit.ts';
import type { RolePatch, Store } from '../store/types.ts';
import { parseCommandArgs, type AdminContext } from './user-commands.ts';
import { checkName, checkPatterns, UsageError } from './validation.ts';
import { printTable } from './table.ts';

/** What a role command needs: the store and the operator's streams (no hasher, no TOKEN_TTL). */
export type RoleContext = Pick<AdminContext, 'store' | 'out' | 'warn' | 'now'>;

/**
 * A parsed `warden role ...` command, checked before the store is opened (a usage error never
 * opens or creates one); `createsStore` says whether it may create a missing SQLite file (only
 * `role add`, as `user add`: both set a store up).
 */
export interface RoleCommand {
  readonly createsStore: boolean;
  run(ctx: RoleContext): Promise<void>;
}

const ROLE_FLAGS = {
  publish: { type: 'string', multiple: true },
  subscribe: { type: 'string', multiple: true },
  invoke: { type: 'string', multiple: true },
} as const;

/**
 * How long a `role-changed` event means something, s: workers read it within a poll interval;
 * one that starts later reads roles fresh anyway. As for `user-changed`.
 */
const CHANGE_EVENT_TTL = 300;

function roleOnly(command: string, positionals: string[]): string {
  if (positionals.length !== 1 || positionals[0] === undefined)
    throw new UsageError(`usage: warden role ${command} <role>`);
  return checkName('role', positionals[0]);
}

/** `<role>` and the pattern flags; only the lists given are in the patch. */
function parseRoleArgs(command: string, args: string[]): { name: string; patch: RolePatch } {
  const { values, positionals } = parseCommandArgs(`role ${command}`, args, ROLE_FLAGS);
  const name = roleOnly(command, positionals);
  const patch: { -readonly [K in keyof RolePatch]: RolePatch[K] } = {};
  if (values.publish) patch.publish = checkPatterns('publish', values.publish);
  if (values.subscribe) patch.subscribe = checkPatterns('subscribe', values.subscribe);
  if (values.invoke) patch.invoke = checkPatterns('invoke', values.invoke);
  return { name, patch };
}

/** Tells every worker (through the store's event log) to renew the sockets holding `role` now. */
async function announceChange(
  ctx: RoleContext,
  role: string,
  change: 'added' | 'set' | 'removed',
): Promise<void> {
  audit('permissions_changed', { by: 'cli', role, change });
  const nowSeconds = Math.floor((ctx.now ?? Date.now)() / 1000);
  await ctx.store.appendEvent({
    kind: 'role-changed',
    subject: role,
    value: 0,
    expiresAt: nowSeconds + CHANGE_EVENT_TTL,
  });
}

async function usersOf(store: Store, role: string): Promise<string[]> {
  return (await store.listUsers()).filter((user) => user.roles.includes(role)).map((user) => user.username);
}

function add(args: string[]): RoleCommand {
  const { name, patch } = parseRoleArgs('add', args);
  return {
    createsStore: true,
    async run(ctx) {
      await ctx.store.createRole({
        name,
        publish: patch.publish ?? [],
        subscribe: patch.subscribe ?? [],
        invoke: patch.invoke ?? [],
      });
      // Users may already name it (`user add --role` before `role add`): their sockets gain it now.
      await announceChange(ctx, name, 'added');
      ctx.out(`created role ${name}`);
    },
  };
}

function set(args: string[]): RoleCommand {
  const { name, patch } = parseRoleArgs('set', args);
  if (Object.keys(patch).length === 0)
    throw new UsageError('nothing to change: give at least one of --publish, --subscribe, --invoke');
  return {
    createsStore: false,
    async run(ctx) {
      await ctx.store.updateRole(name, patch);
      await announceChange(ctx, name, 'set');
      ctx.out(`updated role ${name}`);
    },
  };
}

function remove(args: string[]): RoleCommand {
  const { positionals } = parseCommandArgs('role remove', args, {});
  const name = roleOnly('remove', positionals);
  return {
    createsStore: false,
    async run(ctx) {
      await ctx.store.removeRole(name);
      await announceChange(ctx, name, 'removed');
      ctx.out(`removed role ${name}`);
      const users = await usersOf(ctx.store, name);
      if (users.length === 0) return;
      const named = users.slice(0, 5).join(', ') + (users.length > 5 ? ', ...' : '');
      ctx.warn(
        `warning: ${users.length} user(s) still name role "${name}" (${named}); it grants them nothing until it is added again`,
      );
    },
  };
}

function list(args: string[]): RoleCommand {
  const { positionals } = parseCommandArgs('role list', args, {});
  if (positionals.length > 0)
    throw new UsageError(`warden role list takes no arguments (got "${positionals[0]}")`);
  return {
    createsStore: false,
    async run(ctx) {
      const rows = (await ctx.store.listRoles()).map((role) => [
        role.name,
        role.publish.join(',') || '-',
        role.subscribe.join(',') || '-',
        role.invoke.join(',') || '-',
      ]);
      printTable(ctx.out, ['ROLE', 'PUBLISH', 'SUBSCRIBE', 'INVOKE'], rows);
    },
  };
}

export const ROLE_USAGE = `usage: warden role <command>
  add <role> [--publish P]... [--subscribe P]... [--invoke P]...
  set <role> (same flags; each one given replaces that list)
  list
  remove <role>
A user's claims are its own patterns and those of its roles (warden user add|set --role R).
Changes reach connected sockets at once.`;

/**
 * Parses `warden role ...`: throws UsageError (exit 2) for anything malformed; the command's run
 * throws a WardenError (exit 1, e.g. RoleNotFoundError) when it fails.
 *
 * @example
 *   const command = parseRoleCommand(['set', 'chat', '--subscribe', 'chat.*']);
 *   await command.run({ store, out, warn });
 */
export function parseRoleCommand(args: string[]): RoleCommand {
  const [command, ...rest] = args;
  switch (command) {
    case 'add':
      return add(rest);
    case 'set':
      return set(rest);
    case 'list':
      return list(rest);
    case 'remove':
      return remove(rest);
    default:
      throw new UsageError(
        command === undefined ? ROLE_USAGE : `unknown command "role ${command}"\n${ROLE_USAGE}`,
      );
  }
}
