import { patternProblem } from '../auth/patterns.ts';

/**
 * Names that end up inside channel patterns ({username}, {tenant}) must be single, literal
 * segments: no dots, no wildcards, no control characters.
 */
const NAME = /^[A-Za-z0-9_@-]{1,64}$/;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function checkName(what: string, value: string): string {
  if (!NAME.test(value))
    throw new UsageError(`${what} "${value}" must be 1-64 characters of A-Z a-z 0-9 _ @ -`);
  return value;
}

export function checkPatterns(flag: string, patterns: readonly string[]): string[] {
  for (const pattern of patterns) {
    const problem = patternProblem(pattern);
    if (problem !== null) throw new UsageError(`--${flag} "${pattern}" ${problem}`);
  }
  return [...patterns];
}
