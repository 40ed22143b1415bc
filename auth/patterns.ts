/**
 * Warden's channel pattern language (docs/claims.md, "Patterns"):
 * dot-separated segments; `*` matches exactly one segment; `>` (last segment only) matches one or
 * more trailing segments; `{username}`, `{sub}` and `{tenant}` in a stored pattern are filled in
 * when a token is signed.
 *
 * @example
 *   const allows = compilePatterns(['chat.*', 'user.alice.>']);
 *   allows('chat.lobby'); // true
 *   allows('user.alice'); // false: '>' needs at least one segment
 */

export const MAX_CHANNEL_BYTES = 256;

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const PLACEHOLDER = /\{(username|sub|tenant)\}/g;

/** Why a channel (or procedure) name is not a literal name, or null when it is one. */
export function literalNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'must be a string';
  if (name === '') return 'must not be empty';
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short names skip the byte count. This runs on
  // every publish, so it allocates nothing.
  if (name.length * 3 > MAX_CHANNEL_BYTES && Buffer.byteLength(name, 'utf8') > MAX_CHANNEL_BYTES)
    return `is longer than ${MAX_CHANNEL_BYTES} bytes`;
  if (CONTROL.test(name)) return 'contains a control character';
  if (name.includes('*') || name.includes('>'))
    return 'contains a wildcard (* or >); channel names are literal';
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) return 'has an empty segment';
  return null;
}

/** Why a stored pattern is malformed, or null when it is well formed. */
export function patternProblem(pattern: string): string | null {
  if (pattern === '') return 'is empty';
  if (CONTROL.test(pattern)) return 'contains a control character';
  const segments = pattern.split('.');
  for (const [index, segment] of segments.entries()) {
    if (segment === '') return 'has an empty segment';
    if (segment === '>' && index !== segments.length - 1) return "uses '>' before the last segment";
    if (segment !== '*' && segment !== '>' && /[*>]/.test(segment)) {
      return "uses '*' or '>' inside a segment (they must be whole segments)";
    }
  }
  return null;
}

export interface PlaceholderValues {
  readonly username: string;
  readonly sub: string;
  readonly tenant: string | null;
}

/**
 * Fills `{username}`, `{sub}`, `{tenant}`. A pattern naming `{tenant}` for a user without a tenant
 * is dropped: it must grant nothing rather than match a literal "{tenant}" or an empty segment.
 */
export function fillPlaceholders(patterns: readonly string[], values: PlaceholderValues): string[] {
  const filled: string[] = [];
  for (const pattern of patterns) {
    if (values.tenant === null && pattern.includes('{tenant}')) continue;
    filled.push(pattern.replace(PLACEHOLDER, (_match, key: keyof PlaceholderValues) => values[key] ?? ''));
  }
  return filled;
}

type Matcher = (name: string) => boolean;

function compileOne(pattern: string): Matcher {
  if (patternProblem(pattern) !== null) return () => false;
  const segments = pattern.split('.');
  const last = segments[segments.length - 1];
  if (!segments.includes('*') && last !== '>') return (name) => name === pattern;
  const tail = last === '>';
  const fixed = tail ? segments.slice(0, -1) : segments;
  return (name) => {
    const parts = name.split('.');
    if (tail ? parts.length <= fixed.length : parts.length !== fixed.length) return false;
    return fixed.every((segment, i) => segment === '*' || segment === parts[i]);
  };
}

/**
 * Predicates of the pattern lists compiled lately, by the list's text. Every renewal, and every
 * socket of the same user, brings the same lists in new arrays: sharing their predicate saves a
 * compilation per token and its closures on every socket. Bounded: the oldest goes first.
 */
const compiledLists = new Map<string, Matcher>();
const COMPILED_LISTS_MAX = 5000;

/** Compiles a list of patterns into one predicate (true when any pattern matches). */
export function compilePatterns(patterns: readonly string[]): Matcher {
  // JSON keeps the key unambiguous whatever a (refused) pattern contains.
  const key = JSON.stringify(patterns);
  let predicate = compiledLists.get(key);
  if (predicate === undefined) {
    const matchers = patterns.map(compileOne);
    predicate = (name) => matchers.some((match) => match(name));
    if (compiledLists.size >= COMPILED_LISTS_MAX)
      compiledLists.delete(compiledLists.keys().next().value as string);
    compiledLists.set(key, predicate);
  }
  return predicate;
}
