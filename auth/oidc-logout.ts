import { createHash } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { WardenError } from '../errors/catalogue.ts';
import type { Store } from '../store/types.ts';
import { isJsonObject, JwtRefusal, mediaType, ownClaim, type SignedJwtVerifier } from './oidc-verifier.ts';

/** What a verified back-channel logout token ends: the IdP session `sid`, or every session of `sub`. */
export interface LogoutRequest {
  readonly sub?: string;
  readonly sid?: string;
  readonly jti: string;
  readonly iat: number;
}

/**
 * Remembers the `jti` of accepted logout tokens until they could no longer be accepted anyway.
 * Asynchronous so that the store can hold it (one cache for every worker) instead of memory.
 */
export interface ReplayCache {
  /** Records `key` until `expiresAt` (epoch s); false if it was already recorded (a replay). */
  firstUse(key: string, expiresAt: number): Promise<boolean>;
}

export interface LogoutTokenOptions {
  readonly replays: ReplayCache;
  /** How old (`iat`) a logout token may be, seconds; default 300. Bounds how long `jti`s are kept. */
  readonly maxAge?: number;
}

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
export const DEFAULT_MAX_AGE = 300;
const MAX_STRING = 1024;

/**
 * Verifies a `logout_token` as OpenID Connect Back-Channel Logout 1.0 §2.6 says, with the same
 * keys, algorithms, issuer and clock as the IdP's access tokens: signature; `iss`; `aud`
 * containing one of the audiences; `iat` present (and at most `maxAge` old), `exp` if present;
 * the `events` claim with a back-channel-logout member whose value is an object; `sid` and/or
 * `sub`; no `nonce` (so that an ID token can never pass, §2.4); a header `typ`, if any, of
 * `logout+jwt`; and a `jti` not seen before. Refusals are BadRequestError with reason
 * `invalid-logout-token` (or `logout-token-replayed`).
 *
 * @example
 *   const replays = createMemoryReplayCache();
 *   const { sid, sub } = await verifyLogoutToken(oidc, body.logout_token, { replays });
 */
export async function verifyLogoutToken(
  verifier: SignedJwtVerifier,
  logoutToken: unknown,
  options: LogoutTokenOptions,
): Promise<LogoutRequest> {
  const maxAge = options.maxAge ?? DEFAULT_MAX_AGE;
  refuseOtherHeaderType(logoutToken);
  let payload;
  try {
    ({ payload } = await verifier.verifySigned(logoutToken, {
      requiredClaims: ['iat', 'jti'],
      maxTokenAge: maxAge,
    }));
  } catch (error) {
    throw error instanceof JwtRefusal
      ? invalid(error.message, error)
      : invalid('could not be checked', error);
  }
  const aud = payload.aud;
  const listed = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!listed.some((value) => verifier.audiences.includes(value)))
    invalidThrow('is meant for another audience');
  const events = ownClaim(payload, 'events');
  if (!isJsonObject(events) || !Object.hasOwn(events, BACKCHANNEL_EVENT)) {
    invalidThrow(`has no "events" claim with the member "${BACKCHANNEL_EVENT}"`);
  }
  if (!isJsonObject(events[BACKCHANNEL_EVENT]))
    invalidThrow(`has an "events" member "${BACKCHANNEL_EVENT}" that is not an object`);
  if (Object.hasOwn(payload, 'nonce'))
    invalidThrow('has a "nonce" claim, which a logout token must not have');
  const sub = optionalString(payload, 'sub');
  const sid = optionalString(payload, 'sid');
  if (sub === undefined && sid === undefined) invalidThrow('names neither a "sid" nor a "sub"');
  const jti = optionalString(payload, 'jti');
  if (jti === undefined) invalidThrow('has no "jti" claim');
  const iat = payload.iat as number;
  // Beyond iat + maxAge (+ tolerance) the token is refused by its age, so the jti need not be kept longer.
  const keepUntil = iat + maxAge + verifier.clockTolerance;
  if (!(await options.replays.firstUse(`${verifier.issuer} ${jti}`, keepUntil))) {
    throw new WardenError('BadRequestError', 'the logout token has been used before', {
      details: { reason: 'logout-token-replayed' },
    });
  }
  return Object.freeze({
    ...(sub === undefined ? {} : { sub }),
    ...(sid === undefined ? {} : { sid }),
    jti,
    iat,
  });
}

/**
 * An in-memory ReplayCache, per process: enough while each worker sees every logout token it
 * must refuse a replay of (the same IdP retrying the same worker); across workers, the store's.
 * Expired entries are dropped as new ones arrive; past `maxEntries`, the oldest are dropped (a
 * dropped `jti` could be replayed only until its token is too old, `maxAge`).
 *
 * @example
 *   const replays = createMemoryReplayCache({ now: () => Date.now() });
 */
export function createMemoryReplayCache(
  options: { now?: () => number; maxEntries?: number } = {},
): ReplayCache {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries <= 0) {
    throw new TypeError('createMemoryReplayCache: maxEntries must be a positive integer');
  }
  // Insertion order is expiry order closely enough: every entry lives about maxAge.
  const seen = new Map<string, number>();
  return {
    firstUse(key, expiresAt) {
      const nowSeconds = now() / 1000;
      for (const [old, until] of seen) {
        if (until > nowSeconds && seen.size < maxEntries) break;
        seen.delete(old);
      }
      const known = seen.get(key);
      if (known !== undefined && known > nowSeconds) return Promise.resolve(false);
      seen.delete(key);
      seen.set(key, expiresAt);
      return Promise.resolve(true);
    },
  };
}

/**
 * §2.4: a logout token's header `typ`, when present, is `logout+jwt` (RFC 8725 §3.11: a JWT of
 * another kind must not be taken for one). Checked before the signature: it costs nothing.
 */
function refuseOtherHeaderType(token: unknown): void {
  if (typeof token !== 'string') return; // verifySigned words that refusal
  let typ: unknown;
  try {
    typ = decodeProtectedHeader(token).typ;
  } catch {
    return; // verifySigned refuses a malformed token
  }
  if (typ !== undefined && mediaType(typ) !== 'logout+jwt') {
    invalidThrow(`has the header type "${String(typ).slice(0, 32)}", not "logout+jwt"`);
  }
}

function invalid(why: string, cause?: unknown): WardenError {
  return new WardenError('BadRequestError', `the logout token ${why}`, {
    details: { reason: 'invalid-logout-token' },
    ...(cause === undefined ? {} : { cause }),
  });
}

function invalidThrow(why: string): never {
  throw invalid(why);
}

/** An absent claim is undefined; a present one must be a non-empty string. */
function optionalString(payload: object, key: string): string | undefined {
  const value = ownClaim(payload, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > MAX_STRING)
    invalidThrow(`has an invalid "${key}" claim`);
  return value;
}

/**
 * A replay cache every worker shares: the store's attempt counters, whose atomic upsert makes the
 * first use of a `jti` count 1 on whichever worker the logout token reaches first. Each entry is
 * kept for `windowSeconds` (at least the longest a logout token is accepted, `maxAge`, plus the
 * clock tolerance), then forgotten with its window.
 *
 * @example
 *   const replays = createStoreReplayCache(store, { windowSeconds: 330 });
 */
export function createStoreReplayCache(store: Store, options: { windowSeconds: number }): ReplayCache {
  const seen = store.attemptCounter({ name: 'logout-jti', limit: 1, windowSeconds: options.windowSeconds });
  return {
    async firstUse(key) {
      // A digest: issuer and jti together can exceed the counters' 255-byte key.
      return (await seen.hit(createHash('sha256').update(key).digest('base64url'))).count === 1;
    },
  };
}
