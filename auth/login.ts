import { z } from 'zod';
import { WardenError } from '../errors/catalogue.ts';
import type { Store, User } from '../store/types.ts';
import type { FairAdmission } from './fair-admission.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './passwords.ts';

/** One message for every failed login, so a response never tells which usernames exist. */
export const LOGIN_FAILED_MESSAGE = 'invalid username or password';

const credentialsSchema = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

/** Why a login failed, for the audit trail only: the client always gets LOGIN_FAILED_MESSAGE. */
export type LoginFailureReason = 'unknown-user' | 'wrong-password' | 'disabled' | 'changed-during-check';

/**
 * The LoginError of a failed password login, carrying its reason as a non-enumerable property:
 * SocketCluster serialises only enumerable ones, so the client cannot tell the cases apart.
 */
function loginFailed(reason: LoginFailureReason): WardenError {
  const error = new WardenError('LoginError', LOGIN_FAILED_MESSAGE);
  Object.defineProperty(error, 'auditReason', { value: reason, enumerable: false });
  return error;
}

/** The audit reason of a refused login (see loginFailed), else the error's reason or name. */
export function loginFailureReason(error: WardenError): string {
  const { auditReason } = error as { auditReason?: string };
  return auditReason ?? error.reason ?? (error.name === 'BadRequestError' ? 'malformed' : error.name);
}

export type PasswordCredentials = z.infer<typeof credentialsSchema>;

/** Validates untrusted login input; throws BadRequestError naming what is wrong. */
export function parseCredentials(input: unknown): PasswordCredentials {
  const parsed = credentialsSchema.safeParse(input);
  if (!parsed.success) {
    throw new WardenError('BadRequestError', 'expected {"username": string, "password": string}');
  }
  return parsed.data;
}

export interface PasswordCheckDeps {
  readonly store: Store;
  readonly hasher: PasswordHasher;
  readonly throttle: LoginThrottle;
  readonly admission: FairAdmission;
  readonly now: () => number;
}

/** A user whose password was right, as the store had them at `asOf` (ms), after the check. */
export interface CheckedUser {
  readonly user: User;
  readonly asOf: number;
}

/**
 * Checks a username and password. Unknown user, wrong password and disabled user all fail with
 * the same LoginError after the same amount of hashing work. The hash takes about half a second
 * and may wait for its turn, so the user is read again after it: a user disabled, removed or
 * revoked meanwhile gets no login. `asOf` is taken before that read: a token issued with it as
 * `iat` is covered by any revocation that the read did not see.
 *
 * @example
 *   const { user, asOf } = await checkPassword(deps, parseCredentials(body), clientAddress);
 */
export async function checkPassword(
  deps: PasswordCheckDeps,
  credentials: PasswordCredentials,
  clientAddress: string,
): Promise<CheckedUser> {
  const { username, password } = credentials;
  // An address with its hash slots full is refused before any store work: a flood stays cheap.
  deps.admission.assertRoom(clientAddress);
  const attempt = await deps.throttle.begin(username, clientAddress);
  const before = await deps.store.findUserByUsername(username);
  let ok: boolean;
  try {
    ok = await deps.admission.run(
      clientAddress,
      () =>
        before === null
          ? deps.hasher.verifyDummy(password)
          : deps.hasher.verify(password, before.passwordHash),
      { priority: attempt.addressCount },
    );
  } catch (error) {
    // Refused admission (busy) checked no password: it is not a failed login.
    await attempt.withdrawn();
    throw error;
  }
  if (before === null) throw loginFailed('unknown-user');
  if (!ok) throw loginFailed('wrong-password');
  if (before.disabled) throw loginFailed('disabled');
  await attempt.succeeded();
  const asOf = deps.now();
  const user = await deps.store.findUserById(before.id);
  if (user === null || user.disabled || user.tokensValidFrom !== before.tokensValidFrom) {
    throw loginFailed(user?.disabled === true ? 'disabled' : 'changed-during-check');
  }
  if (deps.hasher.needsRehash(user.passwordHash)) await upgradeHash(deps, user, password);
  return { user, asOf };
}

/**
 * Re-hashes a password stored with weaker parameters than PASSWORD_HASH_COST now asks for: the
 * only moment the plain password is at hand. Once per user; a store error leaves the old hash.
 */
async function upgradeHash(deps: PasswordCheckDeps, user: User, password: string): Promise<void> {
  try {
    await deps.store.updateUser(user.username, { passwordHash: await deps.hasher.hash(password) });
  } catch {
    // The login itself succeeded; the upgrade is retried at the next one.
  }
}
