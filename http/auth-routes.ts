import { Router, type Request } from 'express';
import { checkLogin, parseCredentials, type LoginDeps } from '../auth/login.ts';
import type { Revocation, RevocationList } from '../auth/revocations.ts';
import type { TokenService } from '../auth/tokens.ts';
import { WardenError } from '../errors/catalogue.ts';
import type { Logger } from '../log/logger.ts';
import type { ClientAddressResolver } from '../net/client-address.ts';

export interface AuthRouteDeps extends LoginDeps {
  readonly tokens: TokenService;
  readonly revocations: RevocationList;
  readonly revoke: (revocation: Revocation) => Promise<void>;
  readonly reuseGrace: number;
  readonly log: Logger;
  readonly clientAddress: ClientAddressResolver;
}

function bearerToken(request: Request): string {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header);
  if (match?.[1] === undefined)
    throw new WardenError('AuthTokenMissingError', 'expected "Authorization: Bearer <token>"');
  return match[1];
}

/**
 * `POST /auth/login` and `POST /auth/logout` (shared/CONTRACT.md, "HTTP").
 *
 * @example
 *   app.use('/auth', createAuthRoutes({ store, hasher, limiter, tokens, revocations, revoke, log }));
 */
export function createAuthRoutes(deps: AuthRouteDeps): Router {
  const router = Router();

  router.post('/login', async (request, response) => {
    const credentials = parseCredentials(request.body);
    const user = await checkLogin(deps, credentials, deps.clientAddress(request));
    const { token, claims } = deps.tokens.issue(user);
    response.status(200).json({ token, expiresAt: claims.exp });
  });

  router.post('/logout', async (request, response) => {
    const claims = deps.tokens.verify(bearerToken(request));
    const revoked = deps.revocations.problem(claims, Math.floor(deps.tokens.now() / 1000), deps.reuseGrace);
    if (revoked !== null) throw revoked;
    await deps.revoke({ kind: 'token', subject: claims.jti, value: 0, expiresAt: claims.exp });
    response.status(204).end();
  });

  return router;
}
