import express, { Router, type Request } from 'express';
import { idpSessionId, type CredentialAcceptor } from '../auth/credentials.ts';
import { verifyLogoutToken, type ReplayCache } from '../auth/oidc-logout.ts';
import type { OidcVerifier } from '../auth/oidc-verifier.ts';
import { Revocations, type Revocation } from '../auth/revocations.ts';
import { WardenError } from '../errors/catalogue.ts';
import { audit } from '../log/audit.ts';
import type { Logger } from '../log/logger.ts';
import type { ClientAddressResolver } from '../net/client-address.ts';

export interface OidcRouteDeps {
  readonly acceptor: CredentialAcceptor;
  readonly oidc: OidcVerifier;
  readonly replays: ReplayCache;
  readonly revoke: (revocation: Revocation) => Promise<void>;
  readonly clientAddress: ClientAddressResolver;
  /** How long a logged-out IdP session's tokens stay refused, seconds (SESSION_MAX_AGE). */
  readonly sessionMaxAge: number;
  readonly now: () => number;
  readonly log: Logger;
}

function bearer(request: Request): string {
  const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(request.headers.authorization ?? '');
  if (match?.[1] === undefined)
    throw new WardenError('AuthTokenMissingError', 'expected "Authorization: Bearer <access token>"');
  return match[1];
}

/**
 * The OpenID Connect routes, mounted under /auth when OIDC_ISSUER is set:
 * - `POST /auth/exchange` with the IdP's access token as Bearer: a Warden session bound to the
 *   IdP session (renewed, rotated and revoked like a local login);
 * - `POST /auth/oidc/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): ends, on every
 *   worker, the sockets and sessions of the IdP session (`sid`), or of the user (`sub`) when the
 *   token names no session. 200 also for a session Warden never saw; 400 for a bad or replayed token.
 *
 * @example
 *   app.use('/auth', createOidcRoutes({ acceptor, oidc, replays, revoke, clientAddress, sessionMaxAge, now, log }));
 */
export function createOidcRoutes(deps: OidcRouteDeps): Router {
  const router = Router();

  router.post('/exchange', async (request, response) => {
    const identity = await deps.acceptor.accept(
      { kind: 'access-token', token: bearer(request) },
      { clientAddress: deps.clientAddress(request) },
    );
    if (identity.kind !== 'external')
      throw new WardenError('AuthTokenInvalidError', 'expected an access token');
    const { token, claims } = deps.acceptor.issue(identity);
    response.status(200).json({ token, expiresAt: claims.exp });
  });

  router.post(
    '/oidc/backchannel-logout',
    express.urlencoded({ extended: false, limit: 16 * 1024, parameterLimit: 10 }),
    async (request, response) => {
      // The spec's answers carry no cache (§2.8).
      response.setHeader('Cache-Control', 'no-store');
      const body = (request.body ?? {}) as Record<string, unknown>;
      const logout = await verifyLogoutToken(deps.oidc, body.logout_token, { replays: deps.replays });
      const nowSeconds = Math.floor(deps.now() / 1000);
      const until = nowSeconds + deps.sessionMaxAge;
      if (logout.sid !== undefined) {
        await deps.revoke(Revocations.ofSession(idpSessionId(deps.oidc.issuer, logout.sid), until));
      } else if (logout.sub !== undefined) {
        // Every token of that identity issued until now; +1: tokens of this very second too.
        await deps.revoke(Revocations.ofUser(logout.sub, nowSeconds + 1, until));
      }
      deps.log.info('back-channel logout', { sid: logout.sid !== undefined, sub: logout.sub !== undefined });
      audit('revocation', {
        kind: logout.sid !== undefined ? 'session' : 'user',
        by: 'backchannel',
        issuer: deps.oidc.issuer,
        sub: logout.sub ?? null,
      });
      response.status(200).end();
    },
  );

  return router;
}
