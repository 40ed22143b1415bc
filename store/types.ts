/**
 * The store: one narrow interface for everything Warden persists, with a MySQL/MariaDB
 * implementation (mysql.ts) and an embedded SQLite one (sqlite.ts). Both pass the same contract
 * suite (test/integration/store/store-contract.ts).
 */

export interface Permissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly invoke: readonly string[];
}

export interface User extends Permissions {
  readonly id: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly tenant: string | null;
  readonly roles: readonly string[];
  readonly disabled: boolean;
  /** Tokens whose `iat` is below this (epoch seconds) are invalid: the per-user revocation cut-off. */
  readonly tokensValidFrom: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface NewUser extends Permissions {
  readonly username: string;
  readonly passwordHash: string;
  readonly tenant: string | null;
  readonly roles: readonly string[];
}

export type UserPatch = Partial<
  Pick<
    User,
    'passwordHash' | 'tenant' | 'roles' | 'publish' | 'subscribe' | 'invoke' | 'disabled' | 'tokensValidFrom'
  >
>;

/**
 * A named set of patterns. A user's roles (and an IdP or gateway identity's) add their patterns to
 * its claims: auth/role-permissions.ts.
 */
export interface Role extends Permissions {
  /** As given to `warden role add`; matched exactly (case, spaces). */
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface NewRole extends Permissions {
  readonly name: string;
}

export type RolePatch = Partial<Permissions>;

export type RevocationKind = 'token' | 'session' | 'user';

/**
 * A cluster event, stored durably so that every worker (and a worker that starts later) sees it.
 * `revoke` rows are revocations held until `expiresAt`; `user-changed` rows tell workers to re-issue
 * the tokens of that user's sockets at once; `role-changed` rows, of the sockets holding that role.
 */
export interface ClusterEvent {
  readonly id: number;
  readonly kind: RevocationKind | 'user-changed' | 'role-changed';
  /**
   * jti for 'token', session id for 'session', user id for 'user' and 'user-changed', role name
   * for 'role-changed'.
   */
  readonly subject: string;
  /** For 'user': the cut-off (epoch s); otherwise 0. */
  readonly value: number;
  /** Epoch seconds after which the row means nothing (the longest a covered token could live). */
  readonly expiresAt: number;
  readonly createdAt: number;
}

export type NewClusterEvent = Omit<ClusterEvent, 'id' | 'createdAt'>;

export interface AttemptCounterOptions {
  /** Distinguishes counters sharing the table (`pair`, `account`, `address`). */
  readonly name: string;
  /** Counts above this are `over`. */
  readonly limit: number;
  /** Fixed window: a key's count starts again this long after its first hit. */
  readonly windowSeconds: number;
}

export interface AttemptCount {
  readonly count: number;
  /** The count is above the counter's limit. */
  readonly over: boolean;
  /** Milliseconds until the key's window ends. */
  readonly retryAfterMs: number;
}

/**
 * A fixed-window counter kept in the store, so that every worker of the cluster sees the same
 * counts (login failure limits). Throws StoreUnavailableError when the store does not answer.
 */
export interface AttemptCounter {
  readonly limit: number;
  /** Counts one attempt for `key`. */
  hit(key: string): Promise<AttemptCount>;
  /** The current count, without counting; null when the key has no window open. */
  peek(key: string): Promise<AttemptCount | null>;
  /** Takes back one attempt (a login that turned out to succeed). */
  undo(key: string): Promise<void>;
  /** Marks `key` for `seconds` (a remembered fact such as "logged in from here"). */
  mark(key: string, seconds: number): Promise<void>;
}

/** What a one-time secret is for (an auth code is a ticket); only redeemed for its own purpose. */
export type OneTimePurpose = 'ticket' | 'invite';

/**
 * A one-time secret (a ticket, an auth code, an invite), stored by the SHA-256 of the secret,
 * never the secret itself. `payload` is what redeeming it yields (JSON text, opaque to the store).
 */
export interface NewOneTimeSecret {
  /** Lower-case hex SHA-256 of the secret. */
  readonly hash: string;
  readonly purpose: OneTimePurpose;
  readonly payload: string;
  /** Epoch milliseconds after which it is refused as expired. */
  readonly expiresAt: number;
}

/**
 * The outcome of a redemption, decided atomically in the store: exactly one caller cluster-wide
 * gets `redeemed` for a secret. `used` carries the payload too (a replay tells whose session was
 * stolen); `expired` and `unknown` carry nothing.
 */
export type Redemption =
  | { readonly status: 'redeemed'; readonly payload: string }
  | { readonly status: 'used'; readonly payload: string }
  | { readonly status: 'expired' }
  | { readonly status: 'unknown' };

export interface Store {
  readonly kind: 'mysql' | 'sqlite';
  /** Applies pending schema migrations; idempotent, safe to run from several processes. */
  migrate(): Promise<number>;
  createUser(user: NewUser): Promise<User>;
  findUserByUsername(username: string): Promise<User | null>;
  findUserById(id: string): Promise<User | null>;
  listUsers(): Promise<User[]>;
  countUsers(): Promise<number>;
  updateUser(username: string, patch: UserPatch): Promise<User>;
  removeUser(username: string): Promise<User>;
  /** Throws RoleExistsError for a name already taken. */
  createRole(role: NewRole): Promise<Role>;
  /** Replaces the lists the patch names; throws RoleNotFoundError. */
  updateRole(name: string, patch: RolePatch): Promise<Role>;
  /** Returns the removed role; throws RoleNotFoundError. */
  removeRole(name: string): Promise<Role>;
  /** Every role, ordered by name. */
  listRoles(): Promise<Role[]>;
  /**
   * The roles of these names, in one query, in the order of `names` (each once); names with no
   * role are simply absent. Exact matches only.
   */
  findRoles(names: readonly string[]): Promise<Role[]>;
  /** Appends an event; returns it with its id. */
  appendEvent(event: NewClusterEvent): Promise<ClusterEvent>;
  /** Appends several events in order: atomically per 500 (one statement or transaction). */
  appendEvents(events: readonly NewClusterEvent[]): Promise<void>;
  /** Events with id > afterId, oldest first, at most `limit`. */
  eventsAfter(afterId: number, limit: number): Promise<ClusterEvent[]>;
  /** Events that still mean something at `now` (epoch s) and are revocations. */
  activeRevocations(now: number): Promise<ClusterEvent[]>;
  /** Deletes events that expired before `now`; returns how many. */
  purgeExpiredEvents(now: number): Promise<number>;
  /**
   * Stores `value` under `name` unless a value is already there; returns the stored value either
   * way (first writer wins). Used for cluster-wide facts such as the AUTH_KEY fingerprint.
   */
  claimMeta(name: string, value: string): Promise<string>;
  /** Deletes a meta value; true if there was one. */
  deleteMeta(name: string): Promise<boolean>;
  /** Stores a one-time secret (by its hash). Throws if the hash is already there. */
  createOneTimeSecret(secret: NewOneTimeSecret): Promise<void>;
  /**
   * Marks the secret of this hash and purpose used at `now` (epoch ms) if it is unused and not
   * expired, in one statement: of any number of concurrent callers on any worker, one redeems it.
   */
  redeemOneTimeSecret(hash: string, purpose: OneTimePurpose, now: number): Promise<Redemption>;
  /** The payload of the secret of this hash and purpose, used or not; null when there is none. */
  peekOneTimeSecret(hash: string, purpose: OneTimePurpose): Promise<string | null>;
  /** Makes a redeemed secret unused again (the step it was redeemed for failed); true if it was used. */
  releaseOneTimeSecret(hash: string, purpose: OneTimePurpose): Promise<boolean>;
  /** Deletes secrets that expired before `before` (epoch ms); returns how many. */
  purgeOneTimeSecrets(before: number): Promise<number>;
  /** A cluster-wide attempt counter in this store (see AttemptCounter). */
  attemptCounter(options: AttemptCounterOptions): AttemptCounter;
  ping(): Promise<void>;
  close(): Promise<void>;
}
