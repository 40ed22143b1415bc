import { patternProblem } from '../auth/patterns.ts';
import { RESERVED_CHANNEL_PREFIX } from '../auth/permissions.ts';

/**
 * Names that end up inside channel patterns ({username}, {tenant}) must be single, literal
 * segments: no dots, no wildcards, no control characters.
 */
const NAME = /^[A-Za-z0-9_@-]{1,64}$/;

/**
 * The placeholders that tokens fill in (fillPlaceholders in auth/patterns.ts). Any other `{name}`
 * would stay in the pattern literally and match only a channel of that literal name.
 */
const PLACEHOLDERS: ReadonlySet<string> = new Set(['username', 'sub', 'tenant']);
const BRACED = /\{([^{}]*)\}/g;

export type PatternFlag = 'publish' | 'subscribe' | 'invoke';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function checkName(what: string, value: string): string {
  if (!NAME.test(value))
    throw new UsageError(`${what} "${value}" must be 1-64 characters of A-Z a-z 0-9 _ @ -`);
  return value;
}

/** Why a stored pattern can never match anything a client does, or null. */
export function unmatchableProblem(flag: PatternFlag, pattern: string): string | null {
  if (pattern.startsWith(RESERVED_CHANNEL_PREFIX)) {
    return flag === 'invoke'
      ? `can never match: names starting with ${RESERVED_CHANNEL_PREFIX} are SocketCluster's protocol events`
      : `can never match: channels starting with ${RESERVED_CHANNEL_PREFIX} are reserved and refused for every client`;
  }
  for (const [, name] of pattern.matchAll(BRACED)) {
    if (name !== undefined && !PLACEHOLDERS.has(name))
      return `uses the unknown placeholder {${name}} (known: {username}, {sub}, {tenant})`;
  }
  return null;
}

/**
 * Checks the patterns given to `--publish`, `--subscribe` or `--invoke`: malformed ones and ones
 * that can never match are usage errors.
 *
 * @example
 *   checkPatterns('subscribe', ['chat.*', 'user.{username}.>']); // returned as given
 *   checkPatterns('publish', ['#warden.control']); // throws UsageError
 */
export function checkPatterns(flag: PatternFlag, patterns: readonly string[]): string[] {
  for (const pattern of patterns) {
    const problem = patternProblem(pattern) ?? unmatchableProblem(flag, pattern);
    if (problem !== null) throw new UsageError(`--${flag} "${pattern}" ${problem}`);
  }
  return [...patterns];
}

/**
 * Enforces PASSWORD_MIN_LENGTH on a password given to the CLI, counted in Unicode code points (a
 * character outside the BMP counts once, as a person would count it).
 */
export function checkPassword(password: string, minLength: number): string {
  const length = [...password].length;
  if (length < minLength)
    throw new UsageError(
      `the password has ${length} characters; at least ${minLength} are required (PASSWORD_MIN_LENGTH)`,
    );
  return password;
}

/**
 * Patterns naming `{tenant}` grant nothing to a user without a tenant (fillPlaceholders drops
 * them): one warning line per such pattern.
 */
export function tenantWarnings(user: {
  readonly username: string;
  readonly tenant: string | null;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly invoke: readonly string[];
}): string[] {
  if (user.tenant !== null) return [];
  const warnings: string[] = [];
  for (const flag of ['publish', 'subscribe', 'invoke'] as const) {
    for (const pattern of user[flag]) {
      if (pattern.includes('{tenant}'))
        warnings.push(
          `user "${user.username}" has no tenant, so its ${flag} pattern "${pattern}" grants nothing until it has one (--tenant T)`,
        );
    }
  }
  return warnings;
}
