import type { WardenError } from '../errors/catalogue.ts';
import { audit } from '../log/audit.ts';
import { metrics } from '../metrics/metrics.ts';
import type { ClientAddressResolver } from '../net/client-address.ts';
import { claimsOf, type SocketAddressOf } from '../sockets/socket-facade.ts';
import type { MiddlewareAction } from './action.ts';

/** What the middleware calls with every action it blocks (see installMiddleware). */
export type RefusalRecorder = (action: MiddlewareAction, error: WardenError) => void;

const OPS: Partial<Record<MiddlewareAction['type'], string>> = {
  publishIn: 'publish',
  subscribe: 'subscribe',
  invoke: 'invoke',
  transmit: 'transmit',
  authenticate: 'authenticate',
};

/**
 * Counts and audits every action the middleware refuses: a refused handshake
 * (`warden_handshakes_total{result="refused"}`, and `origin_refused` for a foreign Origin), a
 * denied action (`warden_denials_total`, audit `denied` with op, channel or procedure, reason and
 * who), and any rate limit (`warden_rate_limit_hits_total`, audit `rate_limited`). The audit
 * lines of a flood are limited (log/audit.ts); the counters count every one.
 *
 * @example
 *   installMiddleware(agServer, { ..., onRefused: createRefusalRecorder({ clientAddress, socketAddress }) });
 */
export function createRefusalRecorder(options: {
  clientAddress: ClientAddressResolver;
  socketAddress: SocketAddressOf;
}): RefusalRecorder {
  if (typeof options.clientAddress !== 'function' || typeof options.socketAddress !== 'function') {
    throw new TypeError('createRefusalRecorder: clientAddress and socketAddress must be functions');
  }
  return function recordRefusal(action, error) {
    const reason = error.reason ?? error.name;
    const address =
      action.socket !== undefined
        ? options.socketAddress(action.socket)
        : action.request !== undefined
          ? options.clientAddress(action.request)
          : null;
    // A refused #authenticate names whom its (verified, then refused) token was for.
    const claims = (action.socket === undefined ? null : claimsOf(action.socket)) ?? named(action.authToken);
    const who = { address, username: claims?.username ?? null, sub: claims?.sub ?? null };
    if (error.name === 'RateLimitError') {
      metrics.rateLimitHits.inc({ limit: reason });
      audit('rate_limited', { limit: reason, retryAfter: error.retryAfter ?? null, ...who });
    }
    if (action.type === 'handshakeSC' || action.type === 'handshakeWS') {
      metrics.handshakes.inc({ result: 'refused', reason });
      if (error.name === 'OriginError') {
        const origin = action.request?.headers.origin;
        audit('origin_refused', {
          origin: typeof origin === 'string' ? origin.slice(0, 200) : null,
          address,
        });
      }
      return;
    }
    const op = OPS[action.type] ?? action.type;
    metrics.denials.inc({ op, reason });
    if (error.name === 'RateLimitError') return;
    audit('denied', {
      op,
      reason,
      error: error.name,
      channel: action.channel?.slice(0, 256) ?? null,
      procedure: action.procedure?.slice(0, 128) ?? null,
      ...who,
    });
  };
}

/** `username` and `sub` of a decoded token, if it has them (never the token itself). */
function named(token: unknown): { username: string | null; sub: string | null } | null {
  if (typeof token !== 'object' || token === null) return null;
  const { username, sub } = token as { username?: unknown; sub?: unknown };
  return {
    username: typeof username === 'string' ? username.slice(0, 64) : null,
    sub: typeof sub === 'string' ? sub.slice(0, 128) : null,
  };
}
