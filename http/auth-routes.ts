import { Router, type Request, type Response } from 'express';
import type { Credential, CredentialAcceptor } from '../auth/credentials.ts';
import { Revocations, type Revocation } from '../auth/revocations.ts';
import {
  clearedSessionCookie,
  readSessionCookie,
  sessionCookie,
  type SessionCookieOptions,
} from '../auth/session-cookie.ts';
import type { TokenClaims } from '../auth/tokens.ts';
import { WardenError } from '../errors/catalogue.ts';
import { audit } from '../log/audit.ts';
import type { Logger } from '../log/logger.ts';
import type { ClientAddressResolver } from '../net/client-address.ts';

export interface AuthRouteDeps {
  readonly acceptor: CredentialAcceptor;
  readonly revoke: (revocation: Revocation) => Promise<void>;
  readonly log: Logger;
  readonly clientAddress: ClientAddressResolver;
  /**
   * Cookie sessions (AUTH_COOKIE=on): how the cookie is set, and whether an Origin may get one
   * (only an allowed Origin, never a missing one). Null: off.
   */
  readonly cookie?:
    (SessionCookieOptions & { readonly originAllowed: (origin: string | undefined) => boolean }) | null;
  readonly now?: () => number;
}

function bearerToken(request: Request): string {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header);
  if (match?.[1] === undefined)
    throw new WardenError('AuthTokenMissingError', 'expected "Authorization: Bearer <token>"');
  return match[1];
}

/** What `"response"` in a login body asks for: a token (the default) or an auth code. */
function loginResponse(body: unknown): 'token' | 'code' {
  const value =
    typeof body === 'object' && body !== null && Object.hasOwn(body, 'response')
      ? (body as { response: unknown }).response
      : 'token';
  if (value !== 'token' && value !== 'code')
    throw new WardenError('BadRequestError', '"response" must be "token" or "code"');
  return value;
}

/**
 * `POST /auth/login` (username and password: a token, or with `"response": "code"` an auth
 * code), `POST /auth/logout` (a token or the session cookie: revoked cluster-wide),
 * `POST /auth/ticket` (a token or the cookie: a one-time ticket of its session),
 * `POST /auth/refresh` (the cookie: rotated), `POST /auth/register` (REGISTRATION). Every
 * credential goes through the CredentialAcceptor; the cookie only with an allowed Origin.
 *
 * @example
 *   app.use('/auth', createAuthRoutes({ acceptor, revoke, log, clientAddress, cookie: null }));
 */
export function createAuthRoutes(deps: AuthRouteDeps): Router {
  const router = Router();
  const cookie = deps.cookie ?? null;
  const now = deps.now ?? Date.now;
  const context = (request: Request) => ({ clientAddress: deps.clientAddress(request) });

  /** A token in the Authorization header, else (cookies on) the session cookie. */
  const presented = (request: Request): Credential => {
    if (request.headers.authorization !== undefined) return { kind: 'token', token: bearerToken(request) };
    const value = cookie === null ? undefined : readSessionCookie(request.headers.cookie);
    if (value === undefined)
      throw new WardenError(
        'AuthTokenMissingError',
        'expected "Authorization: Bearer <token>" or the session cookie',
      );
    return { kind: 'cookie', token: value, origin: request.headers.origin };
  };
  const sessionOf = async (request: Request, credential: Credential): Promise<TokenClaims> => {
    const identity = await deps.acceptor.accept(credential, context(request));
    if (identity.kind !== 'session')
      throw new WardenError('AuthTokenInvalidError', 'expected a Warden token');
    return identity.claims;
  };
  /** Sets the cookie on a browser's response from an allowed Origin (cookies on). */
  const setCookie = (request: Request, response: Response, token: string, claims: TokenClaims) => {
    if (cookie === null || !cookie.originAllowed(request.headers.origin)) return;
    response.setHeader('Set-Cookie', sessionCookie(token, claims.exp - Math.floor(now() / 1000), cookie));
  };

  router.post('/login', async (request, response) => {
    const wanted = loginResponse(request.body);
    const identity = await deps.acceptor.accept({ kind: 'password', input: request.body }, context(request));
    if (identity.kind !== 'login') throw new WardenError('LoginError', 'log in with a username and password');
    if (wanted === 'code') {
      const { secret, expiresAt } = await deps.acceptor.mintCode(identity);
      response.status(200).json({ code: secret, expiresAt });
      return;
    }
    const { token, claims } = deps.acceptor.issue(identity);
    setCookie(request, response, token, claims);
    response.status(200).json({ token, expiresAt: claims.exp });
  });

  router.post('/register', async (request, response) => {
    const identity = await deps.acceptor.accept(
      { kind: 'registration', input: request.body },
      context(request),
    );
    if (identity.kind !== 'login') throw new WardenError('RegistrationError', 'registration failed');
    const { token, claims } = deps.acceptor.issue(identity);
    deps.log.info('user registered', { username: claims.username, sub: claims.sub });
    setCookie(request, response, token, claims);
    response.status(201).json({ token, expiresAt: claims.exp });
  });

  router.post('/logout', async (request, response) => {
    const credential = presented(request);
    const claims = await sessionOf(request, credential);
    if (credential.kind === 'cookie') {
      // The browser's session ends: every socket it authenticated, renewed tokens included.
      await deps.revoke(deps.acceptor.sessionRevocation(claims));
      if (cookie !== null) response.setHeader('Set-Cookie', clearedSessionCookie(cookie));
    } else {
      await deps.revoke(Revocations.ofToken(claims));
    }
    const who = {
      username: claims.username,
      sub: claims.sub,
      session: claims.sid,
      address: deps.clientAddress(request),
    };
    audit('logout', { by: 'http', ...who });
    audit('revocation', { kind: credential.kind === 'cookie' ? 'session' : 'token', by: 'http', ...who });
    response.status(204).end();
  });

  router.post('/ticket', async (request, response) => {
    const claims = await sessionOf(request, presented(request));
    const { secret, expiresAt } = await deps.acceptor.mintTicket(claims);
    response.status(201).json({ ticket: secret, expiresAt });
  });

  router.post('/refresh', async (request, response) => {
    const value = cookie === null ? undefined : readSessionCookie(request.headers.cookie);
    if (cookie === null || value === undefined)
      throw new WardenError('AuthTokenMissingError', 'expected the session cookie');
    const old = await sessionOf(request, { kind: 'cookie', token: value, origin: request.headers.origin });
    const { token, claims } = await deps.acceptor.renew(old);
    // The replaced cookie is a replaced token: tolerated for TOKEN_REUSE_GRACE, then its reuse
    // revokes the session (the acceptor's reuse detection).
    await deps.revoke(Revocations.replaced(old, Math.floor(now() / 1000)));
    setCookie(request, response, token, claims);
    response.status(200).json({ expiresAt: claims.exp });
  });

  return router;
}
