import type { Logger } from '../log/logger.ts';

/**
 * How often each of a worker's broker sockets is probed with a WebSocket ping, ms. scc-broker's
 * server answers pings in its `ws` layer (autoPong), so only a broker whose event loop runs
 * answers: a stopped or hung process does not.
 */
export const PROBE_INTERVAL_MS = 500;

/**
 * A broker that has not answered a ping for this long is stalled, ms. Its own sockets would wait
 * 30 s (scc-broker's pingTimeout) and the state server 10 s; a stopped broker's channels lost
 * 404-1,112 messages in 3.1-6.1 s bursts before. The verdict lands 2.0-2.5 s after the broker
 * stopped (measured 2.5-2.7 s for both workers, test/integration/cluster/broker-stall.test.ts); a
 * loaded broker that is merely slow must be slower than 2 s per pong to be taken for stalled.
 */
export const STALL_TIMEOUT_MS = 2000;

/** The few members of socketcluster-client's AGClientSocket that the watch reads. */
interface BrokerSocket {
  readonly state: string;
  readonly transport?: { readonly socket?: PingableSocket };
}

interface PingableSocket {
  readonly readyState: number;
  ping(): void;
  on(event: 'pong', listener: () => void): void;
}

/** The part of scc-broker-client's ClusterBrokerClient the watch needs. */
export interface WatchedClusterClient {
  sccBrokerURIList: string[];
  sccBrokerClientPools: Record<string, { clients: BrokerSocket[] }>;
  mapper: { setSites(sites: string[]): void };
  setBrokers(uris: string[]): void;
}

interface Probe {
  socket: PingableSocket | undefined;
  /** When the unanswered ping was sent; null when none is outstanding. */
  pingSentAt: number | null;
  lastAnswer: number;
  /** Seen open at least once: a socket that never connected is not a stall. */
  wasOpen: boolean;
}

const WS_OPEN = 1;

/**
 * Watches every broker socket of a worker's scc-broker-client and moves channels off a broker
 * that stopped answering (no pong for STALL_TIMEOUT_MS, or its socket closed), as the state
 * server would when it evicts the broker, only sooner; and back once it answers again. Every
 * worker judges on its own within the same bound, so their rendezvous mappings agree again about
 * 2.5 s after a broker stops. Never excludes every broker.
 *
 * @example
 *   const watch = watchBrokers(clusterClient, { log });
 *   watch.stop();
 */
export function watchBrokers(
  client: WatchedClusterClient,
  options: {
    log: Logger;
    now?: () => number;
    probeInterval?: number;
    stallTimeout?: number;
    /** Called with the set of stalled brokers whenever it changes. */
    onChange?: (stalled: ReadonlySet<string>) => void;
  },
): { stalled(): ReadonlySet<string>; stop(): void } {
  const now = options.now ?? Date.now;
  const interval = options.probeInterval ?? PROBE_INTERVAL_MS;
  const stallTimeout = options.stallTimeout ?? STALL_TIMEOUT_MS;
  const stalled = new Set<string>();
  const probes = new WeakMap<BrokerSocket, Probe>();

  // Every mapping scc-broker-client makes (its own broker lists included) skips stalled brokers.
  const setSites = client.mapper.setSites.bind(client.mapper);
  client.mapper.setSites = (sites) => {
    const healthy = sites.filter((site) => !stalled.has(site));
    setSites(healthy.length > 0 ? healthy : sites);
  };
  const remap = () => {
    client.setBrokers(client.sccBrokerURIList);
    options.onChange?.(stalled);
  };

  /** Milliseconds since `socket` last answered, or null while it answers (or never connected). */
  const silence = (socket: BrokerSocket, at: number): number | null => {
    let probe = probes.get(socket);
    if (probe === undefined) {
      probe = { socket: undefined, pingSentAt: null, lastAnswer: at, wasOpen: false };
      probes.set(socket, probe);
    }
    const ws = socket.transport?.socket;
    if (socket.state !== 'open' || ws === undefined || ws.readyState !== WS_OPEN) {
      return probe.wasOpen ? at - probe.lastAnswer : null;
    }
    if (ws !== probe.socket) {
      // A new connection (first or after a reconnect): the handshake itself was an answer.
      const fresh = probe;
      fresh.socket = ws;
      fresh.pingSentAt = null;
      fresh.lastAnswer = at;
      fresh.wasOpen = true;
      ws.on('pong', () => {
        if (fresh.socket === ws) fresh.lastAnswer = Math.max(fresh.lastAnswer, now());
      });
    }
    if (probe.pingSentAt !== null && probe.lastAnswer < probe.pingSentAt) {
      return at - probe.pingSentAt >= stallTimeout ? at - probe.lastAnswer : null;
    }
    probe.pingSentAt = at;
    ws.ping();
    return null;
  };

  let lastTick = now();
  const timer = setInterval(() => {
    const at = now();
    // This worker's own event loop was held up: pongs may be waiting unread, so judge nothing.
    const late = at - lastTick > interval * 2;
    lastTick = at;
    let changed = false;
    const listed = new Set(client.sccBrokerURIList);
    for (const uri of stalled) {
      // Evicted by the state server meanwhile: nothing left to watch.
      if (!listed.has(uri)) stalled.delete(uri);
    }
    for (const [uri, pool] of Object.entries(client.sccBrokerClientPools)) {
      const silent = pool.clients.map((socket) => silence(socket, at));
      const worst = Math.max(-1, ...silent.map((ms) => ms ?? -1));
      if (worst >= stallTimeout && !late && !stalled.has(uri)) {
        stalled.add(uri);
        changed = true;
        options.log.warn('broker stalled: its channels move to the other brokers until it answers', {
          broker: uri,
          silentMs: worst,
        });
      } else if (worst < 0 && stalled.has(uri)) {
        stalled.delete(uri);
        changed = true;
        options.log.info('broker answers again: its channels move back', { broker: uri });
      }
    }
    if (changed) remap();
  }, interval);
  timer.unref();

  return {
    stalled: () => stalled,
    stop: () => clearInterval(timer),
  };
}
