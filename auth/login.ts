import { z } from 'zod';
import { WardenError } from '../errors/catalogue.ts';
import type { Store, User } from '../store/types.ts';
import type { PasswordHasher } from './passwords.ts';
import type { AttemptLimiter } from './rate-limiter.ts';

/** One message for every failed login, so a response never tells which usernames exist. */
export const LOGIN_FAILED_MESSAGE = 'invalid username or password';

const credentialsSchema = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

export type Credentials = z.infer<typeof credentialsSchema>;

/** Validates untrusted login input; throws BadRequestError naming what is wrong. */
export function parseCredentials(input: unknown): Credentials {
  const parsed = credentialsSchema.safeParse(input);
  if (!parsed.success) {
    throw new WardenError('BadRequestError', 'expected {"username": string, "password": string}');
  }
  return parsed.data;
}

export interface LoginDeps {
  readonly store: Store;
  readonly hasher: PasswordHasher;
  readonly limiter: AttemptLimiter;
}

/**
 * Checks credentials and returns the user. Unknown user, wrong password and disabled user all
 * fail with the same LoginError after the same amount of hashing work.
 *
 * @example
 *   const user = await checkLogin(deps, parseCredentials(body), request.socket.remoteAddress);
 */
export async function checkLogin(
  deps: LoginDeps,
  credentials: Credentials,
  clientAddress: string,
): Promise<User> {
  const { username, password } = credentials;
  deps.limiter.hit(`addr:${clientAddress}`, `user:${username.toLowerCase()}`);
  const user = await deps.store.findUserByUsername(username);
  const ok =
    user === null
      ? await deps.hasher.verifyDummy(password)
      : await deps.hasher.verify(password, user.passwordHash);
  if (user === null || !ok || user.disabled) throw new WardenError('LoginError', LOGIN_FAILED_MESSAGE);
  deps.limiter.reset(`user:${username.toLowerCase()}`);
  if (deps.hasher.needsRehash(user.passwordHash)) await upgradeHash(deps, user, password);
  return user;
}

/**
 * Re-hashes a password stored with weaker parameters than PASSWORD_HASH_COST now asks for: the
 * only moment the plain password is at hand. Once per user; a store error leaves the old hash.
 */
async function upgradeHash(deps: LoginDeps, user: User, password: string): Promise<void> {
  try {
    await deps.store.updateUser(user.username, { passwordHash: await deps.hasher.hash(password) });
  } catch {
    // The login itself succeeded; the upgrade is retried at the next one.
  }
}
