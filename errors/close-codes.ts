/**
 * Every WebSocket close code Warden sends, in one place.
 *
 * SocketCluster reserves 4000-4009 (4000 server ping timeout, 4001 client pong timeout, 4002 token
 * signing failure, 4005 handshake timeout, ...), so Warden's own codes live in 4100-4199
 * (client reconnects after its back-off) and 4500+ (socketcluster-client never reconnects).
 */
export const CloseCodes = {
  /**
   * The worker is draining (SIGTERM, rolling update). Reconnect elsewhere soon. A stock
   * socketcluster-client reconnects at once only after 4000/4001/1005; Warden's client tunes its
   * back-off so that this code means a reconnect within about a second.
   */
  WORKER_DRAINING: 4100,
  /** The socket stayed over SOCKET_RATE_LIMIT for 5 s: it is flooding, not bursting. */
  RATE_LIMITED: 4129,
  /** MAX_CONNECTIONS_PER_ADDRESS sockets from this client address are already open on this worker. */
  TOO_MANY_CONNECTIONS: 4130,
  /** Still unauthenticated UNAUTHENTICATED_TIMEOUT after connecting or after losing its authentication. */
  UNAUTHENTICATED_TIMEOUT: 4131,
  /** The client broke the SocketCluster protocol (e.g. a second #handshake on one socket). */
  PROTOCOL_VIOLATION: 4140,
  /** The handshake came from an Origin outside ALLOWED_ORIGINS: retrying cannot help. */
  ORIGIN_FORBIDDEN: 4503,
  /**
   * The trusted gateway passed an upgrade on without an identity (GATEWAY_UNAUTH_ACTION=deny) or
   * with one that cannot be read: reconnecting through the same gateway cannot help until the
   * user has logged in there.
   */
  GATEWAY_IDENTITY_REQUIRED: 4510,
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];
