import type { IncomingMessage } from 'node:http';
import type { TokenClaims } from '../auth/tokens.ts';
import type { WardenSocket } from '../sockets/socket-facade.ts';

/**
 * The part of SocketCluster's middleware action that Warden reads, typed. SC's own typings
 * omit some of these fields (e.g. `request` on HANDSHAKE_SC).
 */
export interface MiddlewareAction {
  readonly type:
    | 'handshakeWS'
    | 'handshakeSC'
    | 'message'
    | 'transmit'
    | 'invoke'
    | 'subscribe'
    | 'publishIn'
    | 'publishOut'
    | 'authenticate';
  readonly socket?: WardenSocket;
  readonly request?: IncomingMessage;
  readonly channel?: string;
  readonly procedure?: string;
  readonly receiver?: string;
  readonly authToken?: unknown;
  readonly signedAuthToken?: string;
  /** The raw frame (a string, or a Buffer for a binary frame) of an INBOUND_RAW `message` action. */
  readonly data?: unknown;
  /** Set by SC when it found the socket's token expired while handling this very action. */
  readonly authTokenExpiredError?: Error;
  allow(): void;
  block(error: Error): void;
}

/** An authorizer inspects one action and throws a WardenError to refuse it. */
export type Authorizer = (action: MiddlewareAction) => void;

/** An authorizer that may wait (on the store) before it decides; rejecting refuses. */
export type AsyncAuthorizer = (action: MiddlewareAction) => void | Promise<void>;

/**
 * What SocketCluster found about the handshake's token (serversocket.js `_validateAuthToken`),
 * handed to HANDSHAKE_SC as `action.data` and then, the same object, to `_processAuthentication`.
 */
export interface HandshakeAuthInfo {
  signedAuthToken: string | null;
  authTokenError: Error | null;
  authToken: TokenClaims | null;
  authState: 'authenticated' | 'unauthenticated';
}

export function isAuthInfo(value: unknown): value is HandshakeAuthInfo {
  return typeof value === 'object' && value !== null && 'authState' in value && 'authToken' in value;
}
