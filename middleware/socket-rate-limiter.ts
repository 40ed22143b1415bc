import { WardenError } from '../errors/catalogue.ts';
import { CloseCodes } from '../errors/close-codes.ts';
import type { WardenSocket } from '../sockets/socket-facade.ts';
import type { Authorizer } from './action.ts';

export interface SocketRateLimiterOptions {
  /** Inbound actions per second per socket (SOCKET_RATE_LIMIT). */
  readonly rate: number;
  /** Most actions a socket may send at once after a quiet spell; default twice `rate`. */
  readonly burst?: number;
  /** How long a socket may stay over the limit before it is closed with RATE_LIMITED, ms. */
  readonly closeAfterMs?: number;
  /**
   * How long the worker stops reading a socket that went over the limit, ms (default 1000, the
   * least `retryAfter`); 0 never pauses. Real time: it is TCP backpressure, not bookkeeping.
   */
  readonly pauseMs?: number;
  /** Milliseconds since the epoch; injectable so tests move time instead of waiting. */
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => void;
}

/** A spell over the limit ends once a socket has been read for this long without a refusal. */
const QUIET_MS = 1000;
const DEFAULT_CLOSE_AFTER_MS = 5000;
const DEFAULT_PAUSE_MS = 1000;

/** What one `take()` decided: allowed, refused (with when to retry), or refused for too long. */
export type Verdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfter: number; readonly flooding: boolean };

const ALLOWED: Verdict = Object.freeze({ allowed: true });

interface Bucket {
  tokens: number;
  at: number;
  /** When the current spell over the limit began, or null. */
  overSince: number | null;
  /** The last refusal, or the end of the pause that followed it. */
  lastRefusal: number;
}

/**
 * A token bucket per key (a socket) holding at most `burst` tokens, refilled at `rate` per
 * second; each action takes one. Keys are held weakly: a closed socket's bucket goes with it.
 * A key refused again within a second of its last refusal (or of the end of the pause after it),
 * for `closeAfterMs`, is flooding.
 *
 * @example
 *   const buckets = new ActionBuckets<object>({ rate: 200, burst: 400, closeAfterMs: 5000, now: Date.now });
 *   buckets.take(socket); // { allowed: true }
 */
export class ActionBuckets<K extends object> {
  private readonly buckets = new WeakMap<K, Bucket>();
  private readonly options: {
    readonly rate: number;
    readonly burst: number;
    readonly closeAfterMs: number;
    readonly now: () => number;
  };

  constructor(options: ActionBuckets<K>['options']) {
    this.options = options;
  }

  take(key: K): Verdict {
    const { rate, burst, closeAfterMs } = this.options;
    const now = this.options.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: burst, at: now, overSince: null, lastRefusal: 0 };
      this.buckets.set(key, bucket);
    } else if (now > bucket.at) {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * rate) / 1000);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return ALLOWED;
    }
    if (bucket.overSince === null || now - bucket.lastRefusal >= QUIET_MS) bucket.overSince = now;
    bucket.lastRefusal = Math.max(bucket.lastRefusal, now);
    // Whole seconds, as HTTP's Retry-After: a client that waits that long finds tokens again.
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
    return { allowed: false, retryAfter, flooding: now - bucket.overSince >= closeAfterMs };
  }

  /** The key is not read for `ms` after a refusal: the spell over the limit lasts through it. */
  hold(key: K, ms: number): void {
    const bucket = this.buckets.get(key);
    if (bucket !== undefined) bucket.lastRefusal = Math.max(bucket.lastRefusal, this.options.now() + ms);
  }

  forget(key: K): void {
    this.buckets.delete(key);
  }
}

function positive(name: string, value: number | undefined, orZero = false): void {
  if (value !== undefined && (!Number.isFinite(value) || value < 0 || (value === 0 && !orZero))) {
    throw new TypeError(`createSocketRateLimiter: ${name} must be a positive number`);
  }
}

/**
 * Limits each socket's inbound actions (publish, subscribe, invoke, transmit and #authenticate)
 * with a token bucket: `rate` per second, bursts up to `burst`. SocketCluster splits a batch
 * frame into packets and runs each through the INBOUND middleware (serversocket.js 362-369),
 * so every packet counts: one frame can carry hundreds. `login` and `logout` count like any
 * invoke: a flood of them is a flood, and the login limits only count failures.
 *
 * Over the limit the action is refused with RateLimitError (`retryAfter` in s), and the worker
 * stops reading that socket for `pauseMs`: refusing costs about as much CPU as accepting, so
 * refusals alone left four flooding sockets holding a control client's round trip at p99 8 s
 * (bench/, "Socket flood"); paused, a flooder's frames wait in TCP buffers and the client is
 * slowed down by TCP itself. A socket refused again and again for `closeAfterMs` (the pauses
 * included) is closed with RATE_LIMITED (4129). Measured before any limit: one socket had
 * 20,000 publishes accepted in 2.7 s and four of them held another client's round trip at 2.2 s.
 *
 * @example
 *   const limitSocket = createSocketRateLimiter({ rate: config.socketRateLimit, now });
 *   installMiddleware(agServer, { limit: limitSocket, ... });
 */
export function createSocketRateLimiter(options: SocketRateLimiterOptions): Authorizer {
  positive('rate', options.rate);
  positive('burst', options.burst);
  positive('closeAfterMs', options.closeAfterMs);
  positive('pauseMs', options.pauseMs, true);
  if (options.burst !== undefined && options.burst < 1) {
    throw new TypeError('createSocketRateLimiter: burst must be at least 1 (one action)');
  }
  const pauseMs = options.pauseMs ?? DEFAULT_PAUSE_MS;
  const setTimer =
    options.setTimer ??
    ((fn: () => void, ms: number) => {
      setTimeout(fn, ms).unref();
    });
  const buckets = new ActionBuckets<WardenSocket>({
    rate: options.rate,
    burst: options.burst ?? options.rate * 2,
    closeAfterMs: options.closeAfterMs ?? DEFAULT_CLOSE_AFTER_MS,
    now: options.now ?? Date.now,
  });
  const paused = new WeakSet<WardenSocket>();
  const resume = (socket: WardenSocket) => {
    if (!paused.delete(socket)) return;
    socket.socket.resume();
  };
  return function limitSocketRate(action) {
    const socket = action.socket;
    // The authentication inside the handshake is one per connection: the connection limit's.
    if (socket === undefined || socket.state === 'connecting') return;
    const verdict = buckets.take(socket);
    if (verdict.allowed) return;
    if (verdict.flooding) {
      buckets.forget(socket);
      // Read again, or the client's close frame would wait out ws's 30 s close timeout.
      resume(socket);
      void socket.disconnect(CloseCodes.RATE_LIMITED, 'over the socket rate limit for too long');
    } else if (pauseMs > 0 && !paused.has(socket) && socket.state === 'open') {
      paused.add(socket);
      socket.socket.pause();
      buckets.hold(socket, pauseMs);
      setTimer(() => resume(socket), pauseMs);
    }
    throw new WardenError('RateLimitError', `more than ${options.rate} actions per second on this socket`, {
      details: { retryAfter: verdict.retryAfter, reason: 'socket-rate' },
    });
  };
}
