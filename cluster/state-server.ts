import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AGServer } from 'socketcluster-server';
import type { Logger } from '../log/logger.ts';

/**
 * Warden's SCC state server. scc-state is not published on npm and its only public version
 * (9.3.0) refuses v10 brokers and workers, so this speaks the protocol that scc-broker 10 and
 * scc-broker-client 10 expect (read from their sources):
 *
 * - components connect as SocketCluster clients with the query
 *   `authKey`, `instanceType` (`scc-broker` | `scc-worker`), `instancePort`, `version`;
 *   a wrong key or a different major version is refused in the handshake;
 * - a broker invokes `sccBrokerJoinCluster {instanceId, instanceIp, instanceIpFamily, instanceSecure}`;
 * - a worker invokes `sccWorkerJoinCluster {instanceId, instanceIp, instanceIpFamily}` and gets
 *   `{sccBrokerURIs, sccWorkerURIs, time, sccSourceWorkerURI}`, refused until the startup delay
 *   has passed (so that the brokers of a cold start have joined);
 * - the server invokes `sccBrokerJoinCluster` / `sccBrokerLeaveCluster` on every worker with the new
 *   `{sccBrokerURIs, time}` after a scale-out / scale-back delay (debounced), and
 *   `sccWorkerJoinCluster` / `sccWorkerLeaveCluster` with `{sccWorkerURIs, sccSourceWorkerURI, time}`.
 *   Workers ignore lists whose `time` is not newer than the last one they applied.
 *
 * @example
 * Plain HTTP requests get an empty 404: the cluster's shape (how many brokers and workers) is not
 * for anyone who has not presented the key.
 *
 * @example
 *   const state = await startStateServer({ port: 7777, host: config.sccBindHost, authKey: config.sccAuthKey, log });
 */
export interface StateServerOptions {
  readonly port: number;
  /** The address to listen on (SCC_BIND_HOST): required, so that nothing binds every interface by accident. */
  readonly host: string;
  readonly authKey: string;
  readonly log: Logger;
  /** Workers are refused a broker list until this long after start, ms. */
  readonly startupDelay?: number;
  /** Delay before a broker that joined is announced to workers, ms. */
  readonly scaleOutDelay?: number;
  /** Delay before a broker that left is removed from workers' lists, ms. */
  readonly scaleBackDelay?: number;
}

export interface StateServer {
  readonly port: number;
  brokerURIs(): string[];
  workerURIs(): string[];
  close(): Promise<void>;
}

/** The SCC major version this state server speaks (scc-broker 10.x, scc-broker-client 10.x). */
export const SCC_PROTOCOL_MAJOR = 10;

interface Member {
  readonly uri: string;
  readonly socket: ScSocket;
}

/** The few members of a SocketCluster server socket the state server uses. */
interface ScSocket {
  readonly id: string;
  readonly remoteAddress?: string;
  readonly request: IncomingMessage;
  procedure(name: string): AsyncIterable<ScRequest>;
  invoke(event: string, data: unknown): Promise<unknown>;
}

interface ScRequest {
  readonly data: unknown;
  end(data?: unknown): void;
  error(error: Error): void;
}

interface JoinData {
  instanceId?: unknown;
  instanceIp?: unknown;
  instanceIpFamily?: unknown;
  instanceSecure?: unknown;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Parses the component's handshake query; throws a named error to refuse it. */
export function checkComponent(
  request: IncomingMessage,
  authKey: string,
): { type: 'scc-broker' | 'scc-worker'; port: number } {
  const query = new URL(request.url ?? '/', 'http://state').searchParams;
  // Compare digests so the comparison takes the same time whatever the key's length.
  if (!timingSafeEqual(digest(query.get('authKey') ?? ''), digest(authKey))) {
    throw namedError('BadClusterAuthError', 'Cannot join the cluster without the right SCC_AUTH_KEY');
  }
  const type = query.get('instanceType');
  if (type !== 'scc-broker' && type !== 'scc-worker') {
    throw namedError('InvalidInstanceTypeError', `Unknown instanceType ${JSON.stringify(type)}`);
  }
  const major = Number((query.get('version') ?? '').split('.')[0]);
  if (major !== SCC_PROTOCOL_MAJOR) {
    throw namedError(
      'CompatibilityError',
      `${type} version ${query.get('version')} is not compatible with this state server (major ${SCC_PROTOCOL_MAJOR})`,
    );
  }
  const port = Number(query.get('instancePort'));
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw namedError('InvalidInstancePortError', 'instancePort must be a port number');
  return { type, port };
}

function memberURI(socket: ScSocket, port: number, data: JoinData): string {
  let ip =
    typeof data.instanceIp === 'string' && data.instanceIp !== ''
      ? data.instanceIp
      : (socket.remoteAddress ?? '127.0.0.1');
  ip = ip.replace(/^::ffff:/, '');
  const v6 = data.instanceIpFamily === 'IPv6' || ip.includes(':');
  const scheme = data.instanceSecure === true ? 'wss' : 'ws';
  return `${scheme}://${v6 ? `[${ip}]` : ip}:${port}`;
}

export async function startStateServer(options: StateServerOptions): Promise<StateServer> {
  const { log } = options;
  const startedAt = Date.now();
  const startupDelay = options.startupDelay ?? 1000;
  const scaleOutDelay = options.scaleOutDelay ?? 500;
  const scaleBackDelay = options.scaleBackDelay ?? 300;
  const brokers = new Map<string, Member>();
  const workers = new Map<string, Member>();
  const httpServer: Server = createServer((_request, response) => {
    response.writeHead(404, { 'content-length': '0', connection: 'close' });
    response.end();
  });
  const agServer = new AGServer({ httpServer, pingTimeout: 10000 });
  let lastTime = 0;
  // Strictly increasing, so workers never drop a list as "not newer" when two come in one ms.
  const time = () => (lastTime = Math.max(Date.now(), lastTime + 1));
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const brokerURIs = () => [...new Set([...brokers.values()].map((b) => b.uri))].sort();
  const workerURIs = () => [...new Set([...workers.values()].map((w) => w.uri))].sort();

  const pushToWorkers = (event: string, data: Record<string, unknown>) => {
    for (const worker of workers.values()) {
      worker.socket
        .invoke(event, data)
        .catch((error: unknown) => log.debug(`${event} not acknowledged`, { error }));
    }
  };
  const announceBrokers = (event: 'sccBrokerJoinCluster' | 'sccBrokerLeaveCluster', delay: number) =>
    later(delay, () => {
      log.info(event === 'sccBrokerJoinCluster' ? 'broker list grew' : 'broker list shrank', {
        brokers: brokerURIs(),
      });
      pushToWorkers(event, { sccBrokerURIs: brokerURIs(), time: time() });
    });
  const announceWorkers = (event: 'sccWorkerJoinCluster' | 'sccWorkerLeaveCluster', source: string) =>
    pushToWorkers(event, { sccWorkerURIs: workerURIs(), sccSourceWorkerURI: source, time: time() });

  agServer.setMiddleware(agServer.MIDDLEWARE_HANDSHAKE, async (stream) => {
    for await (const action of stream) {
      // Refusing at HANDSHAKE_SC (not _WS) delivers the named error to the component.
      if (action.type !== action.HANDSHAKE_SC) {
        action.allow();
        continue;
      }
      try {
        checkComponent(action.request as IncomingMessage, options.authKey);
        action.allow();
      } catch (error) {
        log.warn('refused a cluster component', {
          error,
          from: (action.request as IncomingMessage).socket.remoteAddress,
        });
        action.block(error as Error);
      }
    }
  });

  const serveBroker = async (socket: ScSocket, port: number) => {
    for await (const request of socket.procedure('sccBrokerJoinCluster')) {
      const uri = memberURI(socket, port, (request.data ?? {}) as JoinData);
      brokers.set(socket.id, { uri, socket });
      log.info('broker joined', { uri });
      request.end();
      announceBrokers('sccBrokerJoinCluster', scaleOutDelay);
    }
  };

  const serveWorker = async (socket: ScSocket, port: number) => {
    for await (const request of socket.procedure('sccWorkerJoinCluster')) {
      if (Date.now() - startedAt < startupDelay) {
        request.error(
          namedError(
            'StateServerStartingError',
            'The state server is waiting for brokers to join; retry shortly',
          ),
        );
        continue;
      }
      const uri = memberURI(socket, port, (request.data ?? {}) as JoinData);
      workers.set(socket.id, { uri, socket });
      log.info('worker joined', { uri });
      request.end({
        sccBrokerURIs: brokerURIs(),
        sccWorkerURIs: workerURIs(),
        time: time(),
        sccSourceWorkerURI: uri,
      });
      announceWorkers('sccWorkerJoinCluster', uri);
    }
  };

  void (async () => {
    for await (const { socket } of agServer.listener('connection')) {
      const scSocket = socket as unknown as ScSocket;
      const { type, port } = checkComponent(scSocket.request, options.authKey);
      void (type === 'scc-broker' ? serveBroker(scSocket, port) : serveWorker(scSocket, port));
    }
  })();
  void (async () => {
    for await (const { socket } of agServer.listener('disconnection')) {
      const broker = brokers.get(socket.id);
      if (broker !== undefined) {
        brokers.delete(socket.id);
        log.info('broker left', { uri: broker.uri });
        announceBrokers('sccBrokerLeaveCluster', scaleBackDelay);
      }
      const worker = workers.get(socket.id);
      if (worker !== undefined) {
        workers.delete(socket.id);
        log.info('worker left', { uri: worker.uri });
        announceWorkers('sccWorkerLeaveCluster', worker.uri);
      }
    }
  })();
  void (async () => {
    for await (const { error } of agServer.listener('error'))
      log.debug('state server socket error', { error });
  })();

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (httpServer.address() as AddressInfo).port,
    brokerURIs,
    workerURIs,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      await agServer.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      agServer.killAllListeners();
    },
  };
}
