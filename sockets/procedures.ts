import type { AGServer } from 'socketcluster-server';
import type { Credential, CredentialAcceptor } from '../auth/credentials.ts';
import { Revocations, type Revocation } from '../auth/revocations.ts';
import { toWardenError, WardenError } from '../errors/catalogue.ts';
import type { Logger } from '../log/logger.ts';
import { claimsOf, type SocketAddressOf, type WardenSocket } from './socket-facade.ts';

/** What a procedure handler gets and returns; a thrown WardenError reaches the client by name. */
export type ProcedureHandler = (socket: WardenSocket, data: unknown) => Promise<unknown>;

export interface ProcedureDeps {
  readonly acceptor: CredentialAcceptor;
  readonly revoke: (revocation: Revocation) => Promise<void>;
  readonly log: Logger;
  readonly clientAddress: SocketAddressOf;
}

/** The credential a login request carries: an access token, a ticket, or a username and password. */
function loginCredential(data: unknown): Credential {
  const has = (key: string) => typeof data === 'object' && data !== null && Object.hasOwn(data, key);
  if (has('accessToken'))
    return { kind: 'access-token', token: (data as { accessToken: unknown }).accessToken };
  if (has('ticket')) return { kind: 'ticket', ticket: (data as { ticket: unknown }).ticket };
  return { kind: 'password', input: data };
}

/** Procedures an unauthenticated socket may invoke. */
export const PUBLIC_PROCEDURES: ReadonlySet<string> = new Set(['login']);
/** Procedures every authenticated socket may invoke, whatever its `invoke` claims. */
export const SESSION_PROCEDURES: ReadonlySet<string> = new Set(['logout']);

/**
 * Warden's WebSocket procedures (README, "WebSocket API"):
 * - `login {username, password}` (or `{accessToken}`, or `{ticket}`): authenticates the socket;
 *   the client receives the token.
 * - `logout`: deauthenticates the socket and revokes its token cluster-wide.
 * - `whoami`: the socket's current claims (authorized by the `invoke` claim, like any app RPC).
 */
export function createProcedures(deps: ProcedureDeps): ReadonlyMap<string, ProcedureHandler> {
  return new Map<string, ProcedureHandler>([
    [
      'login',
      async (socket, data) => {
        // {accessToken}: an OpenID provider's access token, exchanged for a Warden session;
        // {ticket}: a one-time ticket or auth code, redeemed for a token of its session.
        const identity = await deps.acceptor.accept(loginCredential(data), {
          clientAddress: deps.clientAddress(socket),
        });
        if (identity.kind !== 'login' && identity.kind !== 'external' && identity.kind !== 'redeemed')
          throw new WardenError(
            'LoginError',
            'log in with a username and password, an access token or a ticket',
          );
        const { claims } = deps.acceptor.issue(identity);
        await socket.setAuthToken(claims as never);
        return { username: claims.username, expiresAt: claims.exp };
      },
    ],
    [
      'logout',
      async (socket) => {
        const claims = claimsOf(socket);
        if (claims === null) return { loggedOut: false };
        await socket.deauthenticate();
        await deps
          .revoke(Revocations.ofToken(claims))
          .catch((error: unknown) =>
            deps.log.warn('logout revoked on the live cluster only (store down)', { error }),
          );
        return { loggedOut: true };
      },
    ],
    [
      'whoami',
      async (socket) => {
        const claims = claimsOf(socket);
        if (claims === null) throw new WardenError('InvokeError', 'log in first');
        return claims;
      },
    ],
  ]);
}

export interface ProcedureServer {
  /** Requests being handled right now. */
  inFlight(): number;
  /** Resolves when no request is in flight, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void>;
}

/** Serves the procedures on every socket of the AGServer, one consumer loop per procedure. */
export function serveProcedures(
  agServer: AGServer,
  procedures: ReadonlyMap<string, ProcedureHandler>,
  log: Logger,
): ProcedureServer {
  let inFlight = 0;
  let onIdle: (() => void) | null = null;
  const settle = () => {
    inFlight--;
    if (inFlight === 0) onIdle?.();
  };
  void (async () => {
    for await (const { socket } of agServer.listener('connection')) {
      for (const [name, handler] of procedures) {
        void (async () => {
          for await (const request of socket.procedure(name)) {
            inFlight++;
            handler(socket, request.data)
              .then(
                (result) => request.end(result),
                (error: unknown) => {
                  const wardenError = toWardenError(error);
                  if (wardenError.name === 'InternalError') log.error(`procedure ${name} failed`, { error });
                  request.error(wardenError);
                },
              )
              .finally(settle);
          }
        })();
      }
    }
  })();
  return {
    inFlight: () => inFlight,
    idle: (timeoutMs) =>
      inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            onIdle = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
  };
}
