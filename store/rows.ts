import { WardenError } from '../errors/catalogue.ts';
import type { ClusterEvent, NewRole, Redemption, Role, RolePatch, User } from './types.ts';

/** A users row as both drivers return it (SQLite integers, MySQL numbers). */
export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  tenant: string | null;
  roles: string;
  publish: string;
  subscribe: string;
  invoke: string;
  disabled: number;
  tokens_valid_from: number;
  created_at: number;
  updated_at: number;
}

/** A roles row as both drivers return it. */
export interface RoleRow {
  name: string;
  publish: string;
  subscribe: string;
  invoke: string;
  created_at: number;
  updated_at: number;
}

export interface EventRow {
  id: number;
  kind: string;
  subject: string;
  value: number;
  expires_at: number;
  created_at: number;
}

function stringArray(column: string, text: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new WardenError('InternalError', `stored ${column} is not JSON`, { cause });
  }
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new WardenError('InternalError', `stored ${column} is not a list of strings`);
  }
  return value;
}

export function userFromRow(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    tenant: row.tenant,
    roles: stringArray('roles', row.roles),
    publish: stringArray('publish', row.publish),
    subscribe: stringArray('subscribe', row.subscribe),
    invoke: stringArray('invoke', row.invoke),
    disabled: Number(row.disabled) !== 0,
    tokensValidFrom: Number(row.tokens_valid_from),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function roleFromRow(row: RoleRow): Role {
  return {
    name: row.name,
    publish: stringArray('publish', row.publish),
    subscribe: stringArray('subscribe', row.subscribe),
    invoke: stringArray('invoke', row.invoke),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const EVENT_KINDS = new Set(['token', 'session', 'user', 'user-changed', 'role-changed']);

export function eventFromRow(row: EventRow): ClusterEvent {
  if (!EVENT_KINDS.has(row.kind))
    throw new WardenError('InternalError', `unknown stored event kind ${row.kind}`);
  return {
    id: Number(row.id),
    kind: row.kind as ClusterEvent['kind'],
    subject: row.subject,
    value: Number(row.value),
    expiresAt: Number(row.expires_at),
    createdAt: Number(row.created_at),
  };
}

/** Column assignments for a user patch, in one fixed order: [column, value][]. */
export function patchColumns(patch: Partial<User>): Array<[string, string | number | null]> {
  const columns: Array<[string, string | number | null]> = [];
  if (patch.passwordHash !== undefined) columns.push(['password_hash', patch.passwordHash]);
  if (patch.tenant !== undefined) columns.push(['tenant', patch.tenant]);
  if (patch.roles !== undefined) columns.push(['roles', JSON.stringify(patch.roles)]);
  if (patch.publish !== undefined) columns.push(['publish', JSON.stringify(patch.publish)]);
  if (patch.subscribe !== undefined) columns.push(['subscribe', JSON.stringify(patch.subscribe)]);
  if (patch.invoke !== undefined) columns.push(['invoke', JSON.stringify(patch.invoke)]);
  if (patch.disabled !== undefined) columns.push(['disabled', patch.disabled ? 1 : 0]);
  if (patch.tokensValidFrom !== undefined) columns.push(['tokens_valid_from', patch.tokensValidFrom]);
  return columns;
}

/** Column assignments for a role patch, in one fixed order: [column, value][]. */
export function rolePatchColumns(patch: RolePatch): Array<[string, string]> {
  const columns: Array<[string, string]> = [];
  if (patch.publish !== undefined) columns.push(['publish', JSON.stringify(patch.publish)]);
  if (patch.subscribe !== undefined) columns.push(['subscribe', JSON.stringify(patch.subscribe)]);
  if (patch.invoke !== undefined) columns.push(['invoke', JSON.stringify(patch.invoke)]);
  return columns;
}

/**
 * The roles found for `names`, in the order of `names`, each once. Matching by the exact string
 * here also drops what a collation matched loosely (MySQL's PAD SPACE: "chat " = "chat").
 */
export function inOrderOf(names: readonly string[], roles: readonly Role[]): Role[] {
  const byName = new Map(roles.map((role) => [role.name, role]));
  const found: Role[] = [];
  for (const name of new Set(names)) {
    const role = byName.get(name);
    if (role !== undefined) found.push(role);
  }
  return found;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** The values of a new role's row, in the column order both dialects' INSERT uses. */
export function newRoleValues(role: NewRole, now: number): [string, string, string, string, number, number] {
  return [
    role.name,
    JSON.stringify(role.publish),
    JSON.stringify(role.subscribe),
    JSON.stringify(role.invoke),
    now,
    now,
  ];
}

export function userExists(username: string, cause: unknown): WardenError {
  return new WardenError('UserExistsError', `user "${username}" already exists`, { cause });
}

export function userNotFound(username: string): WardenError {
  return new WardenError('UserNotFoundError', `no user named "${username}"`);
}

export function roleExists(name: string, cause: unknown): WardenError {
  return new WardenError('RoleExistsError', `role "${name}" already exists`, { cause });
}

export function roleNotFound(name: string): WardenError {
  return new WardenError('RoleNotFoundError', `no role named "${name}"`);
}

export function storeUnavailable(cause: unknown): WardenError {
  return new WardenError('StoreUnavailableError', 'the user store is unavailable', { cause });
}

/** A one_time_secrets row, as far as a failed redemption needs it. */
export interface OneTimeRow {
  payload: string;
  expires_at: number;
  used_at: number | null;
}

/**
 * Why a redemption that changed no row failed, from the row read after it: never there (or
 * purged), already used, or expired. A row used meanwhile reads as used, whatever its expiry.
 */
export function failedRedemption(row: OneTimeRow | undefined): Redemption {
  if (row === undefined) return { status: 'unknown' };
  if (row.used_at !== null) return { status: 'used', payload: row.payload };
  return { status: 'expired' };
}
