import { createRequire } from 'node:module';
import type { AGServer } from 'socketcluster-server';
import type { Logger } from '../log/logger.ts';

const require = createRequire(import.meta.url);

/** The part of scc-broker-client's ClusterBrokerClient that Warden reads. */
interface ClusterBrokerClient {
  isReady: boolean;
  sccBrokerURIList: string[];
  listener(event: 'error'): AsyncIterable<{ error: Error }>;
  listener(event: 'updateBrokers'): AsyncIterable<{ brokerURIs: string[] }>;
}

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
    },
  ): ClusterBrokerClient;
}

export interface ClusterAttachment {
  /** True once this worker knows at least one broker: cross-worker publishes can be routed. */
  isReady(): boolean;
  brokerURIs(): string[];
  /** Resolves when the first broker list has arrived. */
  ready: Promise<void>;
}

/**
 * Attaches a worker's AGServer broker engine to the SCC cluster with scc-broker-client: the
 * worker registers with the state server, receives the broker list, and from then on every
 * publish (client or `agServer.exchange`) crosses workers through the brokers that rendezvous
 * hashing assigns to its channel.
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
  });
  const isReady = () => client.isReady && client.sccBrokerURIList.length > 0;
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
        options.log.info('broker list updated', { brokers: brokerURIs });
        if (isReady()) resolve();
      }
    })();
  });
  return { isReady, brokerURIs: () => [...client.sccBrokerURIList], ready };
}
