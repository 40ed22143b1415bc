import { createRequire } from 'node:module';
import type { AGServer } from 'socketcluster-server';
import type { Logger } from '../log/logger.ts';
import { routeBrokerChannels, type ChannelClientPool, type RoutedClusterClient } from './broker-channels.ts';
import { watchBrokers, type WatchedClusterClient } from './broker-watch.ts';

const require = createRequire(import.meta.url);

/** The part of scc-broker-client's ClusterBrokerClient that Warden reads. */
interface ClusterBrokerClient extends WatchedClusterClient, RoutedClusterClient {
  isReady: boolean;
  sccBrokerClientPools: Record<
    string,
    WatchedClusterClient['sccBrokerClientPools'][string] & ChannelClientPool
  >;
  mapChannelNameToBrokerURI(channel: string): string;
  listener(event: 'error'): AsyncIterable<{ error: Error }>;
  listener(event: 'updateBrokers'): AsyncIterable<{ brokerURIs: string[] }>;
  /** A broker acknowledged this worker's subscription to `channel`. */
  listener(event: 'subscribe'): AsyncIterable<{ channel: string }>;
}

interface SubscribingBroker {
  subscribeSocket(socket: unknown, channel: string): Promise<unknown>;
}

/** Longest a subscribe ack waits for the broker's confirmation before going ahead anyway, ms. */
const BROKER_SUBSCRIBE_WAIT_MS = 3000;

interface SccBrokerClientModule {
  attach(
    broker: unknown,
    options: {
      stateServerHost: string;
      stateServerPort: number;
      authKey: string;
      instanceId: string;
      instancePort: number;
      instanceIp: string;
      mappingEngine?: 'skeletonRendezvous' | 'simple';
      brokerRetryDelay?: number;
      pubSubBatchDuration?: number;
    },
  ): ClusterBrokerClient;
}

export interface ClusterAttachment {
  /** True once this worker knows at least one broker: cross-worker publishes can be routed. */
  isReady(): boolean;
  brokerURIs(): string[];
  /** Resolves when the first broker list has arrived. */
  ready: Promise<void>;
  /** Brokers this worker found stalled (see broker-watch.ts); their channels use the others. */
  stalledBrokers(): string[];
  /** Consumers of channel data on the broker sockets: 0, as channels are routed per socket (broker-channels.ts). */
  channelConsumers(): number;
}

/**
 * Attaches a worker's AGServer broker engine to the SCC cluster with scc-broker-client: the
 * worker registers with the state server, receives the broker list, and from then on every
 * publish (client or `agServer.exchange`) crosses workers through the brokers that rendezvous
 * hashing assigns to its channel. A broker that stops answering is left out of this worker's
 * mapping until it answers again (broker-watch.ts). The brokers' channel messages reach the
 * local subscribers through one handler per broker socket (broker-channels.ts).
 *
 * @example
 *   const cluster = attachToCluster(agServer, { stateServerHost: '127.0.0.1', stateServerPort: 7777, ... });
 *   await cluster.ready;
 */
export function attachToCluster(
  agServer: AGServer,
  options: {
    stateServerHost: string;
    stateServerPort: number;
    authKey: string;
    instanceId: string;
    instancePort: number;
    instanceIp: string;
    /** See Config.sccPubSubBatchDuration. */
    pubSubBatchDuration: number | null;
    log: Logger;
  },
): ClusterAttachment {
  const scc = require('scc-broker-client') as SccBrokerClientModule;
  const client = scc.attach(agServer.brokerEngine, {
    stateServerHost: options.stateServerHost,
    stateServerPort: options.stateServerPort,
    authKey: options.authKey,
    instanceId: options.instanceId,
    instancePort: options.instancePort,
    instanceIp: options.instanceIp,
    mappingEngine: 'skeletonRendezvous',
    // How soon a refused or failed join to the state server is retried, ms.
    brokerRetryDelay: 500,
    // Each publish to a broker is an RPC with its own ack and timer, and the broker sends it back
    // to this worker too (which drops it) when a local socket subscribes the channel: gathering a
    // channel's publishes for a few ms makes those costs per batch, not per message. Sockets on
    // this worker get the message at once either way; only other workers see the delay.
    ...(options.pubSubBatchDuration === null ? {} : { pubSubBatchDuration: options.pubSubBatchDuration }),
  });
  // Before the client has any broker (attach() connects to the state server asynchronously).
  const routing = routeBrokerChannels(client);
  const isReady = () => client.isReady && client.sccBrokerURIList.length > 0;
  const watch = watchBrokers(client, { log: options.log });
  let errorsLogged = 0;
  void (async () => {
    for await (const { error } of client.listener('error')) {
      // Broker and state-server connection errors repeat while a peer is down: log a few.
      if (errorsLogged++ < 20) options.log.warn('cluster client error', { error });
    }
  })();
  const ready = new Promise<void>((resolve) => {
    void (async () => {
      for await (const { brokerURIs } of client.listener('updateBrokers')) {
        errorsLogged = 0;
        options.log.info('broker list updated', { brokers: brokerURIs, stalled: [...watch.stalled()] });
        if (isReady()) resolve();
      }
    })();
  });
  confirmSubscriptionsAtBroker(agServer.brokerEngine as unknown as SubscribingBroker, client, isReady);
  return {
    isReady,
    brokerURIs: () => [...client.sccBrokerURIList],
    ready,
    stalledBrokers: () => [...watch.stalled()],
    channelConsumers: () => routing.channelConsumers(),
  };
}

/**
 * Holds a socket's subscribe acknowledgement until the channel's broker has confirmed this
 * worker's subscription. scc-broker-client subscribes at the broker asynchronously, after SC has
 * already acknowledged the client; a message published elsewhere in that window was lost, so a
 * client could subscribe, see the ack, and miss the very next message. Now an acknowledged
 * subscription receives every message published after the ack, on any worker.
 */
function confirmSubscriptionsAtBroker(
  broker: SubscribingBroker,
  client: ClusterBrokerClient,
  isReady: () => boolean,
): void {
  const waiters = new Map<string, Set<() => void>>();
  void (async () => {
    for await (const { channel } of client.listener('subscribe')) {
      for (const wake of waiters.get(channel) ?? []) wake();
      waiters.delete(channel);
    }
  })();
  const confirmedAtBroker = (channel: string) =>
    client.sccBrokerClientPools[client.mapChannelNameToBrokerURI(channel)]?.isSubscribed(channel, false) ??
    false;
  const confirmation = (channel: string): Promise<void> =>
    new Promise((resolve) => {
      const set = waiters.get(channel) ?? new Set();
      waiters.set(channel, set);
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && waiters.get(channel) === set) waiters.delete(channel);
        resolve();
      };
      const timer = setTimeout(wake, BROKER_SUBSCRIBE_WAIT_MS);
      set.add(wake);
    });
  const subscribeSocket = broker.subscribeSocket.bind(broker);
  broker.subscribeSocket = async (socket, channel) => {
    const confirmed = !isReady() || confirmedAtBroker(channel) ? null : confirmation(channel);
    const result = await subscribeSocket(socket, channel);
    await confirmed;
    return result;
  };
}
