import type { Logger } from '../log/logger.ts';
import type { ClusterEvent, Store } from '../store/types.ts';

/**
 * Follows the store's durable event log: loads every revocation still in force at start, then
 * polls for new events. This is how a worker that was down, a CLI in another process, or a
 * control message lost between brokers still reaches every worker, within one poll interval.
 *
 * @example
 *   const feed = new EventFeed({ store, interval: 250, log, onEvent: apply });
 *   await feed.start();
 */
export class EventFeed {
  private lastId = 0;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private polling: Promise<void> | null = null;
  private readonly options: {
    store: Store;
    interval: number;
    log: Logger;
    onEvent: (event: ClusterEvent) => void;
    /** Runs after every successful poll (the store answers): e.g. write what waited for it. */
    afterPoll?: () => Promise<void>;
    now?: () => number;
  };

  constructor(options: EventFeed['options']) {
    this.options = options;
  }

  /** Loads the revocations in force, then starts polling. Throws if the store is unreachable. */
  async start(): Promise<void> {
    const now = Math.floor((this.options.now ?? Date.now)() / 1000);
    for (const event of await this.options.store.activeRevocations(now)) this.deliver(event);
    await this.drain();
    this.schedule();
  }

  /** Polls once now (tests, and after a local write to pick it up without waiting). */
  poll(): Promise<void> {
    this.polling ??= this.drain()
      .then(() => this.options.afterPoll?.())
      .then(
        () => {
          if (this.failing) this.options.log.info('store reachable again; event feed resumed');
          this.failing = false;
        },
        (error: unknown) => {
          if (!this.failing) this.options.log.warn('event feed cannot read the store; retrying', { error });
          this.failing = true;
        },
      )
      .finally(() => {
        this.polling = null;
      });
    return this.polling;
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const events = await this.options.store.eventsAfter(this.lastId, 500);
      for (const event of events) this.deliver(event);
      if (events.length < 500) return;
    }
  }

  private deliver(event: ClusterEvent): void {
    if (event.id > this.lastId) this.lastId = event.id;
    this.options.onEvent(event);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.poll().finally(() => {
        if (this.timer !== null) this.schedule();
      });
    }, this.options.interval);
    this.timer.unref();
  }
}
