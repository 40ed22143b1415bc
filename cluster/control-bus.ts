import type { AGServer } from 'socketcluster-server';
import type { Logger } from '../log/logger.ts';
import { CONTROL_CHANNEL, parseControlMessage, type ControlMessage } from './control-messages.ts';

type Body<T> = T extends ControlMessage ? Omit<T, 'origin'> : never;
export type ControlMessageBody = Body<ControlMessage>;

/**
 * Sends and receives control messages over the AGServer's exchange. Delivery is best effort (SCC
 * gives no guarantee); the durable path is the store's event log, polled by EventFeed.
 *
 * @example
 *   const bus = new ControlBus({ exchange: agServer.exchange, origin: workerId, log });
 *   bus.start((message) => apply(message));
 *   bus.publish({ type: 'user-changed', userId });
 */
export class ControlBus {
  private channel: { close(): void } | null = null;
  private readonly options: { exchange: AGServer['exchange']; origin: string; log: Logger };

  constructor(options: ControlBus['options']) {
    this.options = options;
  }

  start(onMessage: (message: ControlMessage) => void): void {
    const channel = this.options.exchange.subscribe(CONTROL_CHANNEL);
    this.channel = channel;
    void (async () => {
      for await (const data of channel) {
        const message = parseControlMessage(data);
        if (message === null) this.options.log.warn('dropped a malformed control message');
        else if (message.origin !== this.options.origin) onMessage(message);
      }
    })();
  }

  publish(message: ControlMessageBody): void {
    const full = { ...message, origin: this.options.origin };
    this.options.exchange.transmitPublish(CONTROL_CHANNEL, full).catch?.((error: unknown) => {
      this.options.log.warn('control message not delivered', { error });
    });
  }

  stop(): void {
    this.channel?.close();
    this.options.exchange.unsubscribe(CONTROL_CHANNEL);
  }
}
