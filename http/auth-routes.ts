import { Router, type Request } from 'express';
import type { CredentialAcceptor } from '../auth/credentials.ts';
import { Revocations, type Revocation } from '../auth/revocations.ts';
import { WardenError } from '../errors/catalogue.ts';
import { audit } from '../log/audit.ts';
import type { Logger } from '../log/logger.ts';
import type { ClientAddressResolver } from '../net/client-address.ts';

export interface AuthRouteDeps {
  readonly acceptor: CredentialAcceptor;
  readonly revoke: (revocation: Revocation) => Promise<void>;
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
 * `POST /auth/login` (username and password: a token) and `POST /auth/logout` (a token: revoked
 * cluster-wide). Both accept their credential through the CredentialAcceptor.
 *
 * @example
 *   app.use('/auth', createAuthRoutes({ acceptor, revoke, log, clientAddress }));
 */
export function createAuthRoutes(deps: AuthRouteDeps): Router {
  const router = Router();

  router.post('/login', async (request, response) => {
    const identity = await deps.acceptor.accept(
      { kind: 'password', input: request.body },
      { clientAddress: deps.clientAddress(request) },
    );
    if (identity.kind !== 'login') throw new WardenError('LoginError', 'log in with a username and password');
    const { token, claims } = deps.acceptor.issue(identity);
    response.status(200).json({ token, expiresAt: claims.exp });
  });

  router.post('/logout', async (request, response) => {
    const address = deps.clientAddress(request);
    const identity = await deps.acceptor.accept(
      { kind: 'token', token: bearerToken(request) },
      { clientAddress: address },
    );
    if (identity.kind !== 'session')
      throw new WardenError('AuthTokenInvalidError', 'expected a Warden token');
    const { claims } = identity;
    await deps.revoke(Revocations.ofToken(claims));
    const who = { username: claims.username, sub: claims.sub, session: claims.sid, address };
    audit('logout', { by: 'http', ...who });
    audit('revocation', { kind: 'token', by: 'http', ...who });
    response.status(204).end();
  });

  return router;
}
