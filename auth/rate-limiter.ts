import { WardenError } from '../errors/catalogue.ts';

/**
 * Fixed-window attempt counter per key (client address, username). In-memory per worker: with W
 * workers a client can make at most W times the limit, which still bounds guessing to a small
 * constant factor without a shared store round trip on every login.
 *
 * @example
 *   const limiter = new AttemptLimiter({ max: 10, windowSeconds: 60 });
 *   limiter.hit(`ip:${address}`); // throws RateLimitError with retryAfter past 10 a minute
 */
export class AttemptLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(options: { max: number; windowSeconds: number; now?: () => number }) {
    this.max = options.max;
    this.windowMs = options.windowSeconds * 1000;
    this.now = options.now ?? Date.now;
  }

  /** Counts one attempt for each key; throws RateLimitError when any key is over its limit. */
  hit(...keys: string[]): void {
    const now = this.now();
    if (this.windows.size > 100_000) this.sweep(now);
    for (const key of keys) {
      let window = this.windows.get(key);
      if (window === undefined || window.resetAt <= now) {
        window = { count: 0, resetAt: now + this.windowMs };
        this.windows.set(key, window);
      }
      window.count++;
      if (window.count > this.max) {
        const retryAfter = Math.max(1, Math.ceil((window.resetAt - now) / 1000));
        throw new WardenError('RateLimitError', `too many login attempts; retry in ${retryAfter} s`, {
          details: { retryAfter },
        });
      }
    }
  }

  /** Forgets a key (a successful login clears its username's count). */
  reset(key: string): void {
    this.windows.delete(key);
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}
