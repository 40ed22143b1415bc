import { COMMON_PASSWORDS_TEXT } from './common-passwords.ts';
import { z } from 'zod';
import { WardenError } from '../errors/catalogue.ts';
import type { User } from '../store/types.ts';
import type { CheckedUser, PasswordCheckDeps } from './login.ts';
import type { OneTimeSecrets } from './one-time-secrets.ts';

export type RegistrationMode = 'closed' | 'open' | 'invite';

export interface RegistrationOptions {
  /** REGISTRATION. */
  readonly mode: RegistrationMode;
  /** REGISTRATION_ROLES: the roles of a user who registers without an invite naming roles. */
  readonly roles: readonly string[];
  /** PASSWORD_MIN_LENGTH, in Unicode code points. */
  readonly passwordMinLength: number;
}

/** Longest password accepted, in UTF-8 bytes: scrypt's input should stay bounded. */
export const PASSWORD_MAX_BYTES = 1024;

/** What an invite stands for (its one-time secret's payload). */
export interface InvitePayload {
  readonly roles: readonly string[];
}

/**
 * The most common passwords (auth/common-passwords.ts names its source), lower-cased. Parsed once,
 * at the first registration, not at import: most processes never register anyone.
 */
let common: ReadonlySet<string> | null = null;
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    COMMON_PASSWORDS_TEXT.split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.toLowerCase()),
  );
  return common;
}

const registrationSchema = z.object({
  // The CLI's rule for names: they end up inside channel patterns ({username}).
  username: z.string().regex(/^[A-Za-z0-9_@-]{1,64}$/),
  password: z.string().min(1),
  invite: z.string().optional(),
});

export type RegistrationInput = z.infer<typeof registrationSchema>;

function refused(status: 400 | 403 | 409, reason: string, message: string, cause?: unknown): WardenError {
  return new WardenError('RegistrationError', message, {
    status,
    details: { reason },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Validates untrusted registration input; BadRequestError naming what is wrong. */
export function parseRegistration(input: unknown): RegistrationInput {
  const parsed = registrationSchema.safeParse(input);
  if (!parsed.success)
    throw new WardenError(
      'BadRequestError',
      'expected {"username": 1-64 of A-Z a-z 0-9 _ @ -, "password": string, "invite"?: string}',
    );
  return parsed.data;
}

/**
 * The password rule a new password breaks, as a RegistrationError (400, `reason` naming the
 * rule: `password-too-short`, `password-too-long`, `password-is-username`, `password-common`), or
 * null. Lengths as PASSWORD_MIN_LENGTH counts them (code points) and at most 1,024 UTF-8 bytes.
 */
export function passwordProblem(username: string, password: string, minLength: number): WardenError | null {
  if ([...password].length < minLength)
    return refused(400, 'password-too-short', `the password must have at least ${minLength} characters`);
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES)
    return refused(400, 'password-too-long', `the password must be at most ${PASSWORD_MAX_BYTES} bytes`);
  const lower = password.normalize('NFC').toLowerCase();
  if (lower === username.normalize('NFC').toLowerCase())
    return refused(400, 'password-is-username', 'the password must not be the username');
  if (commonPasswords().has(lower))
    return refused(400, 'password-common', 'the password is one of the most common passwords');
  return null;
}

function nameTaken(username: string, cause?: unknown): WardenError {
  return refused(409, 'username-taken', `the username "${username}" is taken`, cause);
}

function parseInvite(payload: string): InvitePayload {
  const value = JSON.parse(payload) as { roles?: unknown };
  const roles = Array.isArray(value.roles) ? value.roles.filter((r) => typeof r === 'string') : [];
  return { roles };
}

export interface RegisterDeps extends PasswordCheckDeps {
  readonly options: RegistrationOptions;
  /** Where invites are (REGISTRATION=invite). */
  readonly secrets: OneTimeSecrets | null;
}

/**
 * Creates a user from a self-service registration (`POST /auth/register`). The order keeps a
 * flood cheap and the store whole: mode and password policy first (no store work); then the
 * same throttle and fair, capped hashing queue as a login (a taken name counts as a failed
 * attempt, so names cannot be enumerated faster than passwords are guessed); the name checked
 * before the slow hash and again after it; the invite redeemed (atomically: one registration
 * per invite) only then, and given back if the user row cannot be written after all. A name
 * taken meanwhile is 409 with no row written.
 *
 * @example
 *   const { user, asOf } = await register(deps, body, clientAddress);
 */
export async function register(
  deps: RegisterDeps,
  input: unknown,
  clientAddress: string,
): Promise<CheckedUser> {
  const { mode } = deps.options;
  if (mode === 'closed') throw refused(403, 'closed', 'registration is closed on this server');
  const { username, password, invite } = parseRegistration(input);
  if (mode === 'invite' && invite === undefined)
    throw refused(403, 'invite-required', 'registration needs an invite on this server');
  const weak = passwordProblem(username, password, deps.options.passwordMinLength);
  if (weak !== null) throw weak;

  deps.admission.assertRoom(clientAddress);
  const attempt = await deps.throttle.begin(username, clientAddress);
  if ((await deps.store.findUserByUsername(username)) !== null) throw nameTaken(username);
  let passwordHash: string;
  try {
    passwordHash = await deps.admission.run(clientAddress, () => deps.hasher.hash(password), {
      priority: attempt.addressCount,
    });
  } catch (error) {
    await attempt.withdrawn();
    throw error;
  }
  // The hash took a while and may have waited its turn: the name may be gone by now.
  if ((await deps.store.findUserByUsername(username)) !== null) throw nameTaken(username);

  let roles = deps.options.roles;
  if (mode === 'invite') {
    if (deps.secrets === null) throw refused(403, 'invite-invalid', 'this invite is not valid');
    const outcome = await deps.secrets.redeem('invite', invite);
    if (outcome.status !== 'redeemed')
      throw refused(403, 'invite-invalid', `this invite is not valid (${outcome.status})`);
    const payload = parseInvite(outcome.payload);
    if (payload.roles.length > 0) roles = payload.roles;
  }
  let user: User;
  try {
    user = await deps.store.createUser({
      username,
      passwordHash,
      tenant: null,
      roles: [...roles],
      publish: [],
      subscribe: [],
      invoke: [],
    });
  } catch (error) {
    if (mode === 'invite' && invite !== undefined)
      await deps.secrets?.release('invite', invite).catch(() => undefined);
    if (error instanceof WardenError && error.name === 'UserExistsError') throw nameTaken(username, error);
    throw error;
  }
  await attempt.succeeded();
  return { user, asOf: deps.now() };
}
