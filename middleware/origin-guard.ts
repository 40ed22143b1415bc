import type { IncomingMessage } from 'node:http';
import { WardenError } from '../errors/catalogue.ts';
import { CloseCodes } from '../errors/close-codes.ts';

export interface OriginGuardOptions {
  /** Allowed origins (`scheme://host[:port]`, or `*`); null allows only the server's own origin. */
  readonly allowedOrigins: readonly string[] | null;
}

/**
 * Checks the Origin of a WebSocket handshake or a cookie-bearing request. A request without an
 * Origin header (a non-browser client) passes: Origin is a browser's statement, and blocking its
 * absence would only lock out servers and CLIs. Unlike SC's `origins` option, the scheme counts.
 *
 * @example
 *   const guard = createOriginGuard({ allowedOrigins: ['https://app.example.com'] });
 *   guard(request); // throws WardenError('OriginError', ...)
 */
export function createOriginGuard(options: OriginGuardOptions): (request: IncomingMessage) => void {
  const allowed = options.allowedOrigins === null ? null : new Set(options.allowedOrigins);
  const any = allowed?.has('*') ?? false;
  return function guardOrigin(request) {
    const origin = request.headers.origin;
    if (origin === undefined || any) return;
    if (allowed === null ? isOwnOrigin(origin, request) : allowed.has(origin)) return;
    const error = new WardenError(
      'OriginError',
      `origin ${JSON.stringify(origin).slice(0, 200)} is not allowed`,
    );
    // SocketCluster closes the socket with this code; >= 4500 stops the client from retrying.
    Object.defineProperty(error, 'statusCode', { value: CloseCodes.ORIGIN_FORBIDDEN, enumerable: true });
    throw error;
  };
}

/** The server's own origin: the Origin's host[:port] is the Host the request was sent to. */
function isOwnOrigin(origin: string, request: IncomingMessage): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === request.headers.host;
  } catch {
    return false;
  }
}
