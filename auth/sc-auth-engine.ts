import { WardenError } from '../errors/catalogue.ts';
import type { CredentialAcceptor } from './credentials.ts';
import type { TokenService } from './tokens.ts';

/** The shape of SocketCluster's pluggable auth engine. */
export interface ScAuthEngine {
  verifyToken(signedToken: unknown, key: unknown, options?: unknown): Promise<unknown>;
  signToken(payload: unknown, key: unknown, options?: unknown): Promise<string>;
}

/**
 * Plugs Warden's TokenService into SocketCluster, so that the handshake and `#authenticate` run
 * the same checks as the HTTP routes (pinned algorithm, required claims, lifetime cap,
 * allow-listed claims) and `socket.authToken` holds only allow-listed claims.
 *
 * SC maps a verify error by its `name` (TokenExpiredError -> AuthTokenExpiredError,
 * JsonWebTokenError -> AuthTokenInvalidError), so Warden's errors are renamed to those here.
 */
export function createScAuthEngine(acceptor: CredentialAcceptor, tokens: TokenService): ScAuthEngine {
  return {
    async verifyToken(signedToken) {
      try {
        return await acceptor.verifySocketToken(signedToken);
      } catch (error) {
        const expired = error instanceof WardenError && error.name === 'AuthTokenExpiredError';
        const renamed = new Error(error instanceof Error ? error.message : 'the auth token is invalid');
        renamed.name = expired ? 'TokenExpiredError' : 'JsonWebTokenError';
        throw renamed;
      }
    },
    async signToken(payload) {
      return tokens.signPayload(payload);
    },
  };
}
