import type { IncomingMessage } from 'node:http';
import { WardenError } from '../errors/catalogue.ts';
import { CloseCodes } from '../errors/close-codes.ts';

export interface OriginGuardOptions {
  /** Allowed origins (`scheme://host[:port]`, or `*`); null allows only the server's own origins. */
  readonly allowedOrigins: readonly string[] | null;
  /**
   * The server's own origins when no list is configured (`http://localhost:PORT` and
   * `http://127.0.0.1:PORT` of the listening port): a function, as the port is known only once
   * the server listens.
   */
  readonly ownOrigins: () => readonly string[];
}

/**
 * Checks the Origin of a WebSocket handshake or a cookie-bearing request. A request without an
 * Origin header (a non-browser client) passes: Origin is a browser's statement, and blocking its
 * absence would only lock out servers and CLIs. Unlike SC's `origins` option, the scheme counts.
 * The request's own Host header never decides: an attacker's page on a DNS-rebound name sends a
 * matching Host and Origin, so the own origin comes from configuration only.
 *
 * @example
 *   const guard = createOriginGuard({ allowedOrigins: ['https://app.example.com'], ownOrigins: () => [] });
 *   guard(request); // throws WardenError('OriginError', ...)
 */
export function createOriginGuard(options: OriginGuardOptions): (request: IncomingMessage) => void {
  if (typeof options.ownOrigins !== 'function') {
    throw new TypeError('createOriginGuard: ownOrigins must be a function');
  }
  const allowed = options.allowedOrigins === null ? null : new Set(options.allowedOrigins);
  const any = allowed?.has('*') ?? false;
  return function guardOrigin(request) {
    const origin = request.headers.origin;
    if (origin === undefined || any) return;
    if (allowed === null ? options.ownOrigins().includes(origin) : allowed.has(origin)) return;
    const error = new WardenError(
      'OriginError',
      `origin ${JSON.stringify(origin).slice(0, 200)} is not allowed`,
    );
    // SocketCluster closes the socket with this code; >= 4500 stops the client from retrying.
    Object.defineProperty(error, 'statusCode', { value: CloseCodes.ORIGIN_FORBIDDEN, enumerable: true });
    throw error;
  };
}
