import type { Permissions, Store } from '../store/types.ts';
import { fillPlaceholders, type PlaceholderValues } from './patterns.ts';

/** `lists` concatenated, each pattern once, at its first place. */
function union(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())];
}

/**
 * The patterns an identity holds: its own, then those of each of its roles in the order given,
 * each pattern once (at its first place, so the result does not depend on how often a pattern
 * recurs). Placeholders are left as stored; `fillPermissions` fills them.
 *
 * @example
 *   effectivePermissions(
 *     { publish: ['notes.{username}'], subscribe: [], invoke: [] },
 *     [{ publish: ['chat.*'], subscribe: ['chat.*'], invoke: [] }],
 *   ); // { publish: ['notes.{username}', 'chat.*'], subscribe: ['chat.*'], invoke: [] }
 */
export function effectivePermissions(own: Permissions, roles: readonly Permissions[]): Permissions {
  const all = [own, ...roles];
  return {
    publish: union(all.map((p) => p.publish)),
    subscribe: union(all.map((p) => p.subscribe)),
    invoke: union(all.map((p) => p.invoke)),
  };
}

/**
 * Fills `{username}`, `{sub}` and `{tenant}` (see fillPlaceholders) and drops the duplicates
 * that filling makes (a user's own `user.alice.>` and a role's `user.{username}.>`).
 *
 * @example
 *   fillPermissions(effectivePermissions(user, roles), { username: user.username, sub: user.id, tenant: user.tenant });
 */
export function fillPermissions(permissions: Permissions, values: PlaceholderValues): Permissions {
  return {
    publish: union([fillPlaceholders(permissions.publish, values)]),
    subscribe: union([fillPlaceholders(permissions.subscribe, values)]),
    invoke: union([fillPlaceholders(permissions.invoke, values)]),
  };
}

const NONE: Permissions = Object.freeze({ publish: [], subscribe: [], invoke: [] });

/**
 * The union of the patterns of the named roles, as the store holds them (placeholders left as
 * stored): what an external identity (an OpenID provider's user) may do. Unknown roles grant
 * nothing; no roles, no query.
 *
 * @example
 *   const rolePermissions = createRolePermissions(store);
 *   await rolePermissions(['chat']); // { publish: ['chat.*'], subscribe: [...], invoke: [] }
 */
export function createRolePermissions(store: Store): (roles: readonly string[]) => Promise<Permissions> {
  return async (roles) =>
    roles.length === 0 ? NONE : effectivePermissions(NONE, await store.findRoles(roles));
}
