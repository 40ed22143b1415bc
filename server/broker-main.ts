import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { loadConfig } from '../config/index.ts';
import { startTelemetry } from './telemetry.ts';
import { notifyParent, onShutdown } from './process.ts';

const require = createRequire(import.meta.url);

/**
 * Loads scc-broker's server script so that it listens on `host`. The script (scc-broker 10.0.1)
 * reads no host variable: it calls `http.createServer()` once as it loads and then
 * `listen(SCC_BROKER_SERVER_PORT)`, i.e. on every interface. So it is lent a createServer whose
 * server listens on `host`, for the duration of the require only. Resolves when the broker
 * listens; rejects with the listen error (a port in use), which scc-broker itself swallows.
 */
function loadSccBroker(host: string): Promise<void> {
  const http = require('node:http') as typeof import('node:http');
  const createServer = http.createServer;
  const servers: Server[] = [];
  http.createServer = ((...args: Parameters<typeof createServer>) => {
    const server = createServer(...args);
    const listen = server.listen.bind(server) as (port: number, host: string) => Server;
    server.listen = ((port: number) => listen(port, host)) as Server['listen'];
    servers.push(server);
    return server;
  }) as typeof createServer;
  try {
    require('scc-broker/server.js');
  } finally {
    http.createServer = createServer;
  }
  const [server] = servers;
  if (server === undefined || servers.length !== 1)
    throw new Error(`scc-broker created ${servers.length} HTTP servers; expected one (a new version?)`);
  return new Promise((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
}

/**
 * `warden broker`: one SCC broker, i.e. scc-broker's own server script, configured by the SCC_*
 * variables it reads, on SCC_BIND_HOST. Warden validates them first (a bad value stops here,
 * naming the variable) and fills in the ones scc-broker requires but does not default.
 */
export async function runBroker(): Promise<void> {
  const config = loadConfig();
  const telemetry = await startTelemetry('broker', config);
  const { log } = telemetry;
  process.env.SCC_STATE_SERVER_HOST = config.sccStateServerHost;
  process.env.SCC_STATE_SERVER_PORT = String(config.sccStateServerPort);
  process.env.SCC_BROKER_SERVER_PORT = String(config.sccBrokerServerPort);
  process.env.SCC_AUTH_KEY = config.sccAuthKey;
  // scc-broker retries joining the state server after this many ms (its default is 2000).
  process.env.SCC_BROKER_SERVER_RETRY_DELAY ??= '500';
  await loadSccBroker(config.sccBindHost);
  log.info('broker listening', {
    host: config.sccBindHost,
    port: config.sccBrokerServerPort,
    state: `${config.sccStateServerHost}:${config.sccStateServerPort}`,
  });
  notifyParent({ type: 'ready', role: 'broker' });
  // scc-broker has no graceful stop: its clients reconnect elsewhere, so exiting at once is safe.
  onShutdown(log, () => telemetry.close());
}
