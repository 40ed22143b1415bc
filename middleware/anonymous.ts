import { compilePatterns, patternProblem } from '../auth/patterns.ts';

const NOTHING = (): boolean => false;

/**
 * The matcher of the patterns an unauthenticated socket holds (ANONYMOUS_*), checked as an
 * authorizer factory checks its options; none: nothing matches (deny by default).
 *
 * @example
 *   const anonymous = anonymousMatcher('createPublishAuthorizer', ['lobby.*']);
 *   anonymous('lobby.main'); // true
 */
export function anonymousMatcher(
  factory: string,
  patterns: readonly string[] | undefined,
): (name: string) => boolean {
  if (patterns === undefined || patterns.length === 0) return NOTHING;
  for (const pattern of patterns) {
    const problem = pattern.startsWith('#') ? 'starts with # (reserved)' : patternProblem(pattern);
    if (problem !== null) throw new TypeError(`${factory}: anonymous pattern "${pattern}" ${problem}`);
  }
  return compilePatterns(patterns);
}
