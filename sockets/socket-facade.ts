import type { AGServerSocket } from 'socketcluster-server';
import type { TokenClaims } from '../auth/tokens.ts';
import { UNKNOWN_ADDRESS, type ClientAddressResolver } from '../net/client-address.ts';

/**
 * A small typed view of SocketCluster's loosely typed server socket: only what Warden uses.
 * Warden's auth engine is the only producer of `socket.authToken`, so its shape is TokenClaims.
 */
export type WardenSocket = AGServerSocket;

export function claimsOf(socket: WardenSocket): TokenClaims | null {
  return socket.authState === 'authenticated' && socket.authToken
    ? (socket.authToken as unknown as TokenClaims)
    : null;
}

export function isOpen(socket: WardenSocket): boolean {
  return socket.state === 'open';
}

/** A socket's client address, resolved once from its upgrade request (TRUST_PROXY applies). */
export type SocketAddressOf = (socket: WardenSocket) => string;

/**
 * Resolves each socket's client address from the HTTP upgrade request SocketCluster keeps on
 * `socket.request`, once per socket: limits keyed on it run on every login and connection.
 */
export function createSocketAddressOf(resolve: ClientAddressResolver): SocketAddressOf {
  const known = new WeakMap<WardenSocket, string>();
  return (socket) => {
    let address = known.get(socket);
    if (address === undefined) {
      address =
        socket.request === undefined ? (socket.remoteAddress ?? UNKNOWN_ADDRESS) : resolve(socket.request);
      known.set(socket, address);
    }
    return address;
  };
}
