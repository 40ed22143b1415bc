import type { AGServer } from 'socketcluster-server';
import { HELLO_EVENT } from '../client/src/protocol.ts';

/**
 * Tells every new connection which worker serves it, so the demo page can show a reconnect
 * landing on another worker. Off in production: it is one more message per connection, and the
 * process id is nobody's business there.
 *
 * @example
 *   announceWorker(agServer, `pid ${process.pid}`);
 */
export function announceWorker(agServer: AGServer, worker: string): void {
  void (async () => {
    for await (const { socket } of agServer.listener('connection')) {
      socket.transmit(HELLO_EVENT, { worker }, {});
    }
  })();
}
