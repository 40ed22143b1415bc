import type { IncomingMessage } from 'node:http';
import { WardenError } from '../errors/catalogue.ts';
import { CloseCodes } from '../errors/close-codes.ts';
import type { ClientAddressResolver } from '../net/client-address.ts';
import type { Authorizer } from './action.ts';

export interface ConnectionLimiterOptions {
  /** Open sockets per client address on this worker (MAX_CONNECTIONS_PER_ADDRESS). */
  readonly max: number;
  /** The client address of an upgrade request (TRUST_PROXY-aware). */
  readonly clientAddress: ClientAddressResolver;
}

export interface ConnectionLimiter {
  /** HANDSHAKE_WS: counts the upgrade against its client address until its connection closes. */
  readonly countUpgrade: Authorizer;
  /** HANDSHAKE_SC: refuses the handshake (close 4130) when the address has more than `max` open. */
  readonly admitHandshake: Authorizer;
  /** Open connections of an address right now. */
  open(address: string): number;
}

/**
 * Caps the sockets one client address holds open on this worker. A connection counts from its
 * WebSocket upgrade until its TCP connection closes, whatever happens in between (a refused or
 * abandoned handshake, a close during the handshake, a normal disconnect): the count follows the
 * connection itself, not SocketCluster's events about it. The refusal happens in HANDSHAKE_SC,
 * where SocketCluster sends the error and closes with its `statusCode`; refusing the upgrade
 * itself would give the client only an opaque 1006. Upgrades that never send `#handshake` are
 * counted too and end after SocketCluster's handshake timeout (10 s).
 *
 * @example
 *   const limiter = createConnectionLimiter({ max: 500, clientAddress });
 *   // HANDSHAKE_WS: limiter.countUpgrade(action); HANDSHAKE_SC: limiter.admitHandshake(action)
 */
export function createConnectionLimiter(options: ConnectionLimiterOptions): ConnectionLimiter {
  if (!Number.isSafeInteger(options.max) || options.max < 1) {
    throw new TypeError('createConnectionLimiter: max must be a positive integer');
  }
  const counts = new Map<string, number>();
  const addresses = new WeakMap<IncomingMessage, string>();
  const release = (address: string) => {
    const left = (counts.get(address) ?? 1) - 1;
    if (left <= 0) counts.delete(address);
    else counts.set(address, left);
  };
  return {
    countUpgrade(action) {
      const request = action.request;
      const connection = request?.socket;
      // Gone already (the client gave up): nothing to count, and its 'close' may have fired.
      if (request === undefined || connection === undefined || connection.destroyed) return;
      if (addresses.has(request)) return;
      const address = options.clientAddress(request);
      addresses.set(request, address);
      counts.set(address, (counts.get(address) ?? 0) + 1);
      connection.once('close', () => release(address));
    },
    admitHandshake(action) {
      const request = action.request;
      if (request === undefined) return;
      const address = addresses.get(request);
      if (address === undefined || (counts.get(address) ?? 0) <= options.max) return;
      const error = new WardenError(
        'RateLimitError',
        `more than ${options.max} open connections from this address`,
        { details: { reason: 'too-many-connections' } },
      );
      // SocketCluster closes the socket with this code after sending the error.
      Object.defineProperty(error, 'statusCode', {
        value: CloseCodes.TOO_MANY_CONNECTIONS,
        enumerable: true,
      });
      throw error;
    },
    open: (address) => counts.get(address) ?? 0,
  };
}
