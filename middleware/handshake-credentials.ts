import type { CredentialAcceptor } from '../auth/credentials.ts';
import { readSessionCookie } from '../auth/session-cookie.ts';
import { WardenError } from '../errors/catalogue.ts';
import { CloseCodes } from '../errors/close-codes.ts';
import { SESSION_EVENT } from '../client/src/protocol.ts';
import type { Logger } from '../log/logger.ts';
import type { ClientAddressResolver } from '../net/client-address.ts';
import { amendHandshakeStatus } from '../sockets/handshake-status.ts';
import { isOpen, type WardenSocket } from '../sockets/socket-facade.ts';
import { isAuthInfo, type MiddlewareAction } from './action.ts';

export interface HandshakeCredentialsOptions {
  readonly acceptor: CredentialAcceptor;
  readonly clientAddress: ClientAddressResolver;
  /** AUTH_COOKIE=on: an upgrade with no token may be authenticated by the session cookie. */
  readonly cookies: boolean;
  readonly log: Logger;
}

/** The `ticket` of the upgrade URL's query, if there is one. */
function ticketOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const query = url.indexOf('?');
  if (query < 0) return undefined;
  return new URLSearchParams(url.slice(query + 1)).get('ticket') ?? undefined;
}

/** Refusals the client should read on its connect status (it connects, unauthenticated). */
function isSoftRefusal(error: unknown): error is WardenError {
  return (
    error instanceof WardenError &&
    (error.name === 'LoginError' ||
      error.isBadToken ||
      error.name === 'SessionExpiredError' ||
      error.name === 'AuthTokenRevokedError')
  );
}

/**
 * HANDSHAKE_SC: credentials a browser presents out of band, accepted through the
 * CredentialAcceptor like any other:
 * - `?ticket=` in the WebSocket URL (socketcluster-client's `query` option): a one-time ticket or
 *   auth code, redeemed once cluster-wide; the socket is authenticated in the handshake and the
 *   client then receives the token (#setAuthToken). A used, expired or unknown ticket leaves
 *   the socket unauthenticated with a LoginError (`reason`) as its status's `authError`.
 * - the `warden_session` cookie (AUTH_COOKIE=on), when the client sent no token: only with an
 *   allowed Origin. A cookie from another Origin, or with none, refuses the handshake (close
 *   ORIGIN_FORBIDDEN): the attacker's page of a cross-site WebSocket hijack gets no socket.
 * A token the client sent itself is SocketCluster's own path and wins over the cookie.
 *
 * @example
 *   const authenticateHandshake = createHandshakeCredentials({ acceptor, clientAddress, cookies: true, log });
 */
export function createHandshakeCredentials(
  options: HandshakeCredentialsOptions,
): (action: MiddlewareAction) => Promise<void> {
  if (typeof options.acceptor?.accept !== 'function')
    throw new TypeError('createHandshakeCredentials: acceptor must be a CredentialAcceptor');
  return async function authenticateHandshake(action) {
    const { request, socket } = action;
    const data = action.data;
    if (action.type !== 'handshakeSC' || request === undefined || socket === undefined || !isAuthInfo(data))
      return;
    // A trusted gateway's identity (claims, nothing signed) already decided this connection.
    if (data.authToken !== null && data.signedAuthToken === null) return;
    const context = { clientAddress: options.clientAddress(request) };
    const ticket = ticketOf(request.url);
    if (ticket !== undefined) {
      let identity;
      try {
        identity = await options.acceptor.accept({ kind: 'ticket', ticket }, context);
      } catch (error) {
        if (!isSoftRefusal(error)) throw error;
        // The acceptor has audited the refusal (login_failed, under the trail's flood cap).
        options.log.debug('ticket refused', { reason: error.reason ?? error.name });
        data.signedAuthToken = null;
        data.authToken = null;
        data.authState = 'unauthenticated';
        amendHandshakeStatus(socket, { authError: error });
        return;
      }
      if (identity.kind !== 'redeemed') throw new TypeError('a ticket yields a redeemed session');
      const { token, claims } = options.acceptor.issue(identity);
      data.signedAuthToken = token;
      data.authToken = claims;
      data.authTokenError = null;
      data.authState = 'authenticated';
      deliverToken(socket, claims, options.log);
      return;
    }
    if (!options.cookies || data.signedAuthToken !== null) return;
    const cookie = readSessionCookie(request.headers.cookie);
    if (cookie === undefined) return;
    try {
      const identity = await options.acceptor.accept(
        { kind: 'cookie', token: cookie, origin: request.headers.origin },
        context,
      );
      if (identity.kind !== 'session') throw new TypeError('a cookie yields a session');
      const claims = Object.freeze({ ...identity.claims, cookie: true });
      data.signedAuthToken = cookie;
      data.authToken = claims;
      data.authTokenError = null;
      data.authState = 'authenticated';
      // The page learns who it is from the claims, never from the cookie's token: a stock
      // socketcluster-client would store a token it receives in localStorage.
      const { direct: _direct, cookie: _cookie, ...shown } = identity.claims;
      void socket
        .listener('connect')
        .once()
        .then(() => (isOpen(socket) ? socket.transmit(SESSION_EVENT, { claims: shown }, {}) : undefined))
        .catch((error: unknown) => options.log.warn('session claims not delivered', { error }));
    } catch (error) {
      if (error instanceof WardenError && error.name === 'OriginError') {
        // Audited as origin_refused where the refusal is recorded (middleware/refusals.ts).
        options.log.debug('session cookie from a refused origin');
        Object.defineProperty(error, 'statusCode', { value: CloseCodes.ORIGIN_FORBIDDEN, enumerable: true });
        throw error;
      }
      if (!isSoftRefusal(error)) throw error;
      // An expired or revoked cookie: the socket connects unauthenticated and is told why.
      amendHandshakeStatus(socket, { authError: error });
    }
  };
}

/**
 * Sends the socket its token once it is connected. The client learns a token it did not send
 * only from #setAuthToken: socketcluster-client's transport overwrites a status's authToken with
 * the one it sent (transport.js 209-213). Sent a timer tick after the handshake answer, so that
 * it arrives apart from it: handled first (ws parses frames of one chunk in one go), it would be
 * reset by the client's `_onOpen`.
 */
function deliverToken(socket: WardenSocket, claims: object, log: Logger): void {
  void socket
    .listener('connect')
    .once()
    .then(() => new Promise((resolve) => setTimeout(resolve, 0)))
    .then(() => (isOpen(socket) ? socket.setAuthToken(claims as never) : undefined))
    .catch((error: unknown) => log.warn('handshake token not delivered', { error }));
}
