import type { CredentialAcceptor } from '../auth/credentials.ts';
import type { GatewayRequestReader } from '../auth/gateway-identity.ts';
import { WardenError } from '../errors/catalogue.ts';
import { CloseCodes } from '../errors/close-codes.ts';
import type { ClientAddressResolver } from '../net/client-address.ts';
import { isAuthInfo, type MiddlewareAction } from './action.ts';

export interface GatewayAuthenticatorOptions {
  /** Tells a gateway's upgrade from a direct one (createGatewayRequestReader). */
  readonly read: GatewayRequestReader;
  readonly acceptor: CredentialAcceptor;
  /** GATEWAY_UNAUTH_ACTION: a gateway's upgrade without identity is refused, or admitted unauthenticated. */
  readonly unauthAction: 'deny' | 'pass';
  readonly clientAddress: ClientAddressResolver;
}

/** SocketCluster closes the socket with an error's `statusCode` after sending it. */
function withCloseCode(error: WardenError): WardenError {
  Object.defineProperty(error, 'statusCode', {
    value: CloseCodes.GATEWAY_IDENTITY_REQUIRED,
    enumerable: true,
  });
  return error;
}

/**
 * HANDSHAKE_SC: authenticates a socket upgraded through the trusted gateway with the identity
 * the gateway sent, server-side, with no token for the client. socketcluster-server 20 passes
 * the handshake's verification result (`action.data`) on to `_processAuthentication` after this
 * middleware (serversocket.js 382-413): setting its claims here makes SocketCluster authenticate
 * the socket as it does for a valid token: `authState`, `authToken`, the AUTHENTICATE middleware
 * (revocation), `isAuthenticated` in the client's connect status, and the `authentication` event
 * the lifecycle registers the socket on. Nothing is signed nor sent: the client holds no token
 * that could be used without the gateway, and `direct` claims are never renewed. A client token
 * sent along is ignored: the gateway's word for this connection wins. Without an identity,
 * `deny` refuses the handshake (GATEWAY_IDENTITY_REQUIRED, which the client does not retry) and
 * `pass` lets it go on as a direct one (a token, or anonymous). A header that cannot be read is
 * refused either way: the gateway is misconfigured, not the user anonymous.
 *
 * @example
 *   const authenticateGateway = createGatewayAuthenticator({ read, acceptor, unauthAction: 'deny', clientAddress });
 *   installMiddleware(agServer, { handshake: async (action) => { originGuard(...); await authenticateGateway(action); }, ... });
 */
export function createGatewayAuthenticator(
  options: GatewayAuthenticatorOptions,
): (action: MiddlewareAction) => Promise<void> {
  if (options.unauthAction !== 'deny' && options.unauthAction !== 'pass')
    throw new TypeError('createGatewayAuthenticator: unauthAction must be deny or pass');
  if (typeof options.acceptor?.accept !== 'function')
    throw new TypeError('createGatewayAuthenticator: acceptor must be a CredentialAcceptor');
  return async function authenticateGateway(action) {
    const request = action.request;
    if (action.type !== 'handshakeSC' || request === undefined) return;
    const via = options.read(request);
    if (via.via === 'direct') return;
    if (via.identity === null) {
      if (options.unauthAction === 'pass') return;
      throw withCloseCode(
        new WardenError(
          'GatewayIdentityError',
          'the gateway passed on no identity; log in at the gateway first',
          {
            details: { reason: 'no-identity' },
          },
        ),
      );
    }
    const data = action.data;
    if (!isAuthInfo(data)) throw new TypeError('unexpected HANDSHAKE_SC action data');
    const identity = await options.acceptor
      .accept({ kind: 'gateway', header: via.identity }, { clientAddress: options.clientAddress(request) })
      .catch((error: unknown) => {
        // An unreadable header stays so on retry; a store outage or a revocation may not.
        throw error instanceof WardenError && error.name === 'GatewayIdentityError'
          ? withCloseCode(error)
          : error;
      });
    if (identity.kind !== 'socket') throw new TypeError('a gateway identity yields socket claims');
    data.signedAuthToken = null;
    data.authTokenError = null;
    data.authToken = identity.claims;
    data.authState = 'authenticated';
  };
}
