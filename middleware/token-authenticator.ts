import type { CredentialAcceptor } from '../auth/credentials.ts';
import type { TokenClaims } from '../auth/tokens.ts';
import type { Authorizer } from './action.ts';

export interface TokenAuthenticatorOptions {
  /** Decides revocation, reuse and session age (the cluster's half of accepting a token). */
  readonly acceptor: CredentialAcceptor;
}

/**
 * Runs on AUTHENTICATE, i.e. for the handshake's token and for every later `#authenticate`: the
 * signature, algorithm and claim shapes were already checked by Warden's auth engine; this asks
 * the CredentialAcceptor what only the cluster knows (revocation, reuse, session age).
 * SocketCluster's `deauthenticate()` is not revocation: without this check the same token could
 * simply be sent again. Errors thrown here keep their Warden names on the client.
 *
 * @example
 *   const authenticate = createTokenAuthenticator({ acceptor });
 */
export function createTokenAuthenticator(options: TokenAuthenticatorOptions): Authorizer {
  if (typeof options.acceptor?.admit !== 'function') {
    throw new TypeError('createTokenAuthenticator: acceptor must be a CredentialAcceptor');
  }
  return function authenticateToken(action) {
    options.acceptor.admit(action.authToken as TokenClaims);
  };
}
