import type { AGServerSocket } from 'socketcluster-server';
import type { TokenClaims } from '../auth/tokens.ts';

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

/** The client's address, for rate limiting. */
export function remoteAddressOf(socket: WardenSocket): string {
  return socket.remoteAddress ?? 'unknown';
}
