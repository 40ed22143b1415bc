import { WardenError } from '../errors/catalogue.ts';

/**
 * Runs at most `concurrency` tasks at once and queues at most `maxQueue` more; beyond that it
 * refuses at once with a RateLimitError, so a flood cannot build an unbounded backlog.
 *
 * @example
 *   const limiter = new ConcurrencyLimiter(2, 64);
 *   await limiter.run(() => hashPassword(pw));
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  readonly concurrency: number;
  readonly maxQueue: number;

  constructor(concurrency: number, maxQueue: number) {
    this.concurrency = concurrency;
    this.maxQueue = maxQueue;
  }

  get pending(): number {
    return this.active + this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) {
      if (this.waiting.length >= this.maxQueue) {
        throw new WardenError('RateLimitError', 'the server is busy; try again shortly', {
          details: { retryAfter: 1 },
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
