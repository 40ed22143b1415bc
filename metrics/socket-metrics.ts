import type { AGServer } from 'socketcluster-server';
import { metrics, setLiveSource } from './metrics.ts';

/**
 * Feeds the live metrics of one worker's AGServer: connections by state and subscriptions (read
 * at scrape time from the server's own client list, so nothing can drift), the broker connection,
 * and a count of every accepted handshake by result (authenticated, unauthenticated) and reason
 * (the token's error name, `none`). Refused handshakes are counted where they are refused
 * (middleware/refusals.ts). Returns a function that stops feeding them.
 *
 * @example
 *   const stop = observeSockets(agServer, { brokerReady: () => cluster.isReady() });
 */
export function observeSockets(agServer: AGServer, options: { brokerReady: () => boolean }): () => void {
  setLiveSource({
    connections() {
      let authenticated = 0;
      let total = 0;
      for (const socket of Object.values(agServer.clients)) {
        total++;
        if (socket.authState === 'authenticated') authenticated++;
      }
      return { authenticated, anonymous: total - authenticated };
    },
    subscriptions() {
      let count = 0;
      for (const socket of Object.values(agServer.clients)) count += socket.channelSubscriptionsCount;
      return count;
    },
    brokerConnected: options.brokerReady,
  });
  let stopped = false;
  void (async () => {
    for await (const event of agServer.listener('connection')) {
      if (stopped) break;
      const { authError } = event as { authError?: { name?: string } };
      const result = event.isAuthenticated ? 'authenticated' : 'unauthenticated';
      metrics.handshakes.inc({ result, reason: authError?.name ?? 'none' });
    }
  })();
  return () => {
    stopped = true;
    setLiveSource(null);
  };
}
