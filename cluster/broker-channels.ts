/**
 * The members of socketcluster-client 20.0.2's AGClientSocket (lib/clientsocket.js) that the
 * routing below reads: one of these per broker connection in a scc-broker-client ClientPool.
 */
export interface BrokerChannelSocket {
  /**
   * The socket's demultiplexer of channel data (clientsocket.js line 97, created once in the
   * constructor and kept across reconnects). Its only writer is the '#publish' handler
   * (`_privateDataHandlerMap['#publish']`, lines 249-257), which writes `data.data` under the
   * undecorated channel name, and only while `isSubscribed(channel, true)` (subscribed or pending).
   */
  _channelDataDemux: { write(channel: string, data: unknown): void };
  /** Public: one entry per consumer of any channel's data (clientsocket.js line 1301). */
  getAllChannelOutputsConsumerStatsList(): unknown[];
}

/** The part of scc-broker-client 10.0.0's ClientPool (client-pool.js) the routing uses. */
export interface ChannelClientPool {
  clients: BrokerChannelSocket[];
  isSubscribed(channel: string, includePending: boolean): boolean;
  subscribe(channel: string): unknown;
}

/** The part of scc-broker-client 10.0.0's ClusterBrokerClient (cluster-broker-client.js) the routing replaces or calls. */
export interface RoutedClusterClient {
  sccBrokerClientPools: Record<string, ChannelClientPool>;
  /** Lines 170-180: subscribes on the pool and starts a `for await` loop over the channel. */
  _subscribeClientPoolToChannelAndWatch(pool: ChannelClientPool, channel: string): void;
  /** Lines 163-168: emits 'message' {channel, packet}, which the module's index.js publishes locally. */
  _handleChannelMessage(channel: string, packet: unknown): void;
}

/**
 * Delivers every broker channel's messages through one handler per broker socket instead of
 * scc-broker-client's consumer loop per channel. Its `_subscribeClientPoolToChannelAndWatch`
 * (cluster-broker-client.js lines 170-180) subscribes and then runs `for await (data of channel)`
 * for each channel: an AGChannel, a stream consumer, a pending promise and a closure per
 * subscription held for as long as the channel is, about 2 KB of heap each. Here the override
 * on this client INSTANCE only subscribes, and each broker socket's `_channelDataDemux.write`
 * (see BrokerChannelSocket) hands the message to `_handleChannelMessage` at once. Measured with
 * the bench's warden-scc stack (10,000 subscriptions): 2.45 -> 0.55 KB of heap per subscription,
 * against 0.41 KB without the cluster; about 0.11 KB of the rest is the broker socket's own record
 * of the channel (`_channelMap`), which it needs to resubscribe after a reconnect.
 *
 * What stays the library's: which channels a socket delivers (its '#publish' handler checks its
 * own subscriptions, so unsubscribe, closeChannel and the remapping of setBrokers, lines 54-141,
 * stop delivery as before); batched frames (the transport splits an array of packets into
 * '#publish' packets one by one, transport.js lines 300-304); and pubSubBatchDuration batches
 * (one packet {sender, messages} per publish to the broker, unpacked by index.js's message
 * handler, lines 150-156). Messages of a channel arrive once each, in the order the socket
 * received them, and synchronously (one microtask hop sooner than the loop did).
 *
 * Installed before the client has brokers (scc-broker-client's attach() returns it before its
 * state socket connects), so no channel is ever subscribed through the library's own loop.
 * test/integration/cluster/broker-channels.test.ts fails if a library upgrade changes any of this.
 *
 * @example
 *   const client = scc.attach(agServer.brokerEngine, options);
 *   const routing = routeBrokerChannels(client);
 *   routing.channelConsumers(); // 0
 */
export function routeBrokerChannels(client: RoutedClusterClient): {
  /** Consumers of channel data on the client's broker sockets: 0 unless something iterates a channel. */
  channelConsumers(): number;
} {
  const routed = new WeakSet<BrokerChannelSocket>();
  const route = (socket: BrokerChannelSocket) => {
    if (routed.has(socket)) return;
    const demux = socket._channelDataDemux as Partial<BrokerChannelSocket['_channelDataDemux']> | undefined;
    if (typeof demux?.write !== 'function') {
      // Better no cluster than one that silently delivers nothing.
      throw new Error(
        'socketcluster-client has no _channelDataDemux.write: cluster/broker-channels.ts needs updating',
      );
    }
    const write = demux.write.bind(demux);
    demux.write = (channel, data) => {
      client._handleChannelMessage(channel, data);
      // A no-op unless something consumes the channel (socket.channel(name) in a debugger, say).
      write(channel, data);
    };
    routed.add(socket);
  };
  client._subscribeClientPoolToChannelAndWatch = (pool, channel) => {
    // A pool's sockets are made with it (client-pool.js lines 43-53) and never replaced.
    for (const socket of pool.clients) route(socket);
    if (pool.isSubscribed(channel, true)) return;
    pool.subscribe(channel);
  };
  return {
    channelConsumers: () =>
      Object.values(client.sccBrokerClientPools).reduce(
        (sum, pool) =>
          sum +
          pool.clients.reduce((n, socket) => n + socket.getAllChannelOutputsConsumerStatsList().length, 0),
        0,
      ),
  };
}
