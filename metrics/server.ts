import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../log/logger.ts';
import { registry } from './metrics.ts';

export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `GET /metrics` on its own listener (METRICS_PORT on HOST), never on the public PORT: an
 * Ingress in front of PORT must not publish the cluster's internals. Anything else is 404.
 *
 * @example
 *   const server = await startMetricsServer({ host: config.host, port: 9464, source: processMetrics(), log });
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  source: MetricsSource;
  log: Logger;
}): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    options.source.metrics().then(
      (body) => response.writeHead(200, { 'content-type': options.source.contentType }).end(body),
      (error: unknown) => {
        options.log.warn('metrics scrape failed', { error });
        response.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  // A scraper keeps its connection; a stop must not wait for it.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.log.info('metrics listening', { port });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** This process's own metrics. */
export function processMetrics(): MetricsSource {
  return { contentType: registry.contentType, metrics: () => registry.metrics() };
}

/**
 * The sum of every node:cluster worker's metrics, for the supervisor of `warden start` (each
 * worker answers through `answerClusterScrapes`). The supervisor's own runtime is not in it:
 * every series is a worker total.
 */
export function clusterMetrics(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() };
}

/** In a node:cluster worker: answers the supervisor's scrapes with this process's metrics. */
export function answerClusterScrapes(): void {
  if (!cluster.isWorker) return;
  AggregatorRegistry.setRegistries([registry]);
  // The constructor installs the worker's IPC listener.
  new AggregatorRegistry();
}
