import { compilePatterns, literalNameProblem } from './patterns.ts';
import type { TokenClaims } from './tokens.ts';

/** What a verified token allows, compiled once per token and cached by its claims object. */
export interface CompiledPermissions {
  canPublish(channel: string): boolean;
  canSubscribe(channel: string): boolean;
  canInvoke(procedure: string): boolean;
}

const cache = new WeakMap<TokenClaims, CompiledPermissions>();

/**
 * Returns the compiled permissions of a token's claims. Claims objects are immutable once
 * verified, so the WeakMap cache is safe and keeps the publish hot path to one lookup.
 */
export function permissionsOf(claims: TokenClaims): CompiledPermissions {
  let compiled = cache.get(claims);
  if (compiled === undefined) {
    compiled = {
      canPublish: compilePatterns(claims.publish),
      canSubscribe: compilePatterns(claims.subscribe),
      canInvoke: compilePatterns(claims.invoke),
    };
    cache.set(claims, compiled);
  }
  return compiled;
}

/** Channels that a client may never touch directly, whatever its token says. */
export const RESERVED_CHANNEL_PREFIX = '#';

/** Why a client may not use this channel at all (before claims are consulted), or null. */
export function channelProblem(channel: unknown): string | null {
  const problem = literalNameProblem(channel);
  if (problem !== null) return `channel name ${problem}`;
  if ((channel as string).startsWith(RESERVED_CHANNEL_PREFIX)) return 'channels starting with # are reserved';
  // SocketCluster and its broker keep subscriptions in plain objects keyed by channel name: a
  // subscribe to "__proto__" stored the socket on Object.prototype for the whole worker, and
  // one to "constructor" or "toString" could never be unsubscribed or kicked.
  if (Object.hasOwn(Object.prototype, channel as string)) {
    return `channel name "${channel as string}" is reserved: every JavaScript object has a property of that name`;
  }
  return null;
}
