import type { Permissions, Store } from '../store/types.ts';

/**
 * The union of the patterns of the named roles, as the store holds them: what an external
 * identity (an OpenID provider's user) may do. Unknown roles grant nothing.
 *
 * @example
 *   const rolePermissions = createRolePermissions(store);
 *   await rolePermissions(['chat']); // { publish: ['chat.*'], subscribe: [...], invoke: [] }
 */
export function createRolePermissions(store: Store): (roles: readonly string[]) => Promise<Permissions> {
  void store;
  return async () => ({ publish: [], subscribe: [], invoke: [] });
}
