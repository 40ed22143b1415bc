import type { Credential, CredentialAcceptor } from '../auth/credentials.ts';
import { Revocations, type Revocation } from '../auth/revocations.ts';
import { toWardenError, WardenError } from '../errors/catalogue.ts';
import { audit } from '../log/audit.ts';
import type { Logger } from '../log/logger.ts';
import { claimsOf, type SocketAddressOf, type WardenSocket } from './socket-facade.ts';

/** What a procedure handler gets and returns; a thrown WardenError reaches the client by name. */
export type ProcedureHandler = (socket: WardenSocket, data: unknown) => Promise<unknown>;

/** The part of SocketCluster's RPC request that a procedure answers through. */
interface ProcedureRequest {
  readonly data: unknown;
  end(result: unknown): void;
  error(error: Error): void;
}

export interface ProcedureDeps {
  readonly acceptor: CredentialAcceptor;
  readonly revoke: (revocation: Revocation) => Promise<void>;
  readonly log: Logger;
  readonly clientAddress: SocketAddressOf;
  /**
   * Stops following a socket's token (AuthLifecycle.release), before a logout revokes it: the
   * revocation then ends the token's other sockets (`logout-elsewhere`), never the one that
   * logged out, whose client knows it was its own logout.
   */
  readonly release: (socket: WardenSocket) => void;
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
 * Warden's WebSocket procedures (docs/websocket.md, "Procedures"):
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
        deps.release(socket);
        const who = {
          username: claims.username,
          sub: claims.sub,
          session: claims.sid,
          address: deps.clientAddress(socket),
        };
        audit('logout', { by: 'socket', ...who });
        audit('revocation', { kind: 'token', by: 'socket', ...who });
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
  /**
   * Makes `socket` consume procedure `name` before SocketCluster hands it the request that the
   * INBOUND middleware has just allowed (call it from there, after every check has passed).
   */
  expect(socket: WardenSocket, name: string): void;
  /** Requests being handled right now. */
  inFlight(): number;
  /** Resolves when no request is in flight, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void>;
}

/**
 * Serves the procedures on the sockets of an AGServer. A consumer loop on a socket's procedure
 * stream costs about 2.4 KB of heap, and most sockets never invoke anything after their
 * handshake, so a socket gets its loop for a procedure only while a request the middleware
 * allowed is on its way, and leaves it as soon as none is: an idle socket holds none. The
 * middleware sees each request before SocketCluster writes it to the socket's procedure stream
 * (and a socket's packets are handled in order), so the loop always exists when the request
 * arrives; it ends only once every request counted for it has been received.
 */
export function serveProcedures(
  procedures: ReadonlyMap<string, ProcedureHandler>,
  log: Logger,
): ProcedureServer {
  let inFlight = 0;
  let onIdle: (() => void) | null = null;
  const settle = () => {
    inFlight--;
    if (inFlight === 0) onIdle?.();
  };
  /** Per socket, per procedure: requests allowed by the middleware and not yet received. */
  const expected = new WeakMap<WardenSocket, Map<string, number>>();
  const handle = (socket: WardenSocket, name: string, request: ProcedureRequest) => {
    const handler = procedures.get(name) as ProcedureHandler;
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
  };
  const consume = (socket: WardenSocket, name: string, counts: Map<string, number>) => {
    void (async () => {
      // The consumer is registered synchronously, when the loop starts.
      for await (const request of socket.procedure(name) as AsyncIterable<ProcedureRequest>) {
        const left = (counts.get(name) ?? 1) - 1;
        if (left === 0) counts.delete(name);
        else counts.set(name, left);
        handle(socket, name, request);
        if (left === 0) break;
      }
    })();
  };
  return {
    expect(socket, name) {
      if (!procedures.has(name)) return;
      let counts = expected.get(socket);
      if (counts === undefined) {
        counts = new Map();
        expected.set(socket, counts);
      }
      const waiting = counts.get(name) ?? 0;
      counts.set(name, waiting + 1);
      if (waiting === 0) consume(socket, name, counts);
    },
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
