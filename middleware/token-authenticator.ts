import { WardenError } from '../errors/catalogue.ts';
import type { RevocationList } from '../auth/revocations.ts';
import type { TokenClaims } from '../auth/tokens.ts';
import type { Authorizer } from './action.ts';

export interface TokenAuthenticatorOptions {
  readonly revocations: RevocationList;
  /** Seconds a token replaced by a renewal is still accepted. */
  readonly reuseGrace: number;
  /** Called when a replaced token is presented after the grace window: revoke its session. */
  readonly onReuse: (claims: TokenClaims) => void;
  /** Longest a session (one login's chain of renewed tokens) may last, seconds. */
  readonly sessionMaxAge: number;
  readonly now?: () => number;
}

/**
 * Runs on AUTHENTICATE, i.e. for the handshake's token and for every later `#authenticate`: the
 * signature, algorithm and claim shapes were already checked by Warden's auth engine; this adds
 * what only the cluster knows: revocation by token, session or user, and the session's age.
 * SocketCluster's `deauthenticate()` is not revocation: without this check the same token could
 * simply be sent again.
 *
 * @example
 *   const authenticate = createTokenAuthenticator({ revocations, sessionMaxAge: 43200 });
 */
export function createTokenAuthenticator(options: TokenAuthenticatorOptions): Authorizer {
  const now = options.now ?? Date.now;
  return function authenticateToken(action) {
    const claims = action.authToken as TokenClaims;
    const nowSeconds = Math.floor(now() / 1000);
    const revoked = options.revocations.problem(claims, nowSeconds, options.reuseGrace);
    if (revoked?.name === 'TokenReuseError') options.onReuse(claims);
    if (revoked !== null) throw revoked;
    if (claims.auth_time + options.sessionMaxAge <= nowSeconds) {
      throw new WardenError('SessionExpiredError', 'the session has reached its maximum age; log in again');
    }
  };
}
