import { createRequire } from 'node:module';
import { loadConfig } from '../config/index.ts';
import { createLogger } from '../log/logger.ts';
import { notifyParent } from './process.ts';

const require = createRequire(import.meta.url);

/**
 * `warden broker`: one SCC broker, i.e. scc-broker's own server script, configured by the SCC_*
 * variables it reads. Warden validates them first (a bad value stops here, naming the variable)
 * and fills in the ones scc-broker requires but does not default.
 */
export async function runBroker(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ role: 'broker', level: config.logLevel });
  process.env.SCC_STATE_SERVER_HOST = config.sccStateServerHost;
  process.env.SCC_STATE_SERVER_PORT = String(config.sccStateServerPort);
  process.env.SCC_BROKER_SERVER_PORT = String(config.sccBrokerServerPort);
  process.env.SCC_AUTH_KEY = config.sccAuthKey;
  // scc-broker retries joining the state server after this many ms (its default is 2000).
  process.env.SCC_BROKER_SERVER_RETRY_DELAY ??= '500';
  require('scc-broker/server.js');
  log.info('broker listening', {
    port: config.sccBrokerServerPort,
    state: `${config.sccStateServerHost}:${config.sccStateServerPort}`,
  });
  notifyParent({ type: 'ready', role: 'broker' });
  // scc-broker has no graceful stop: its clients reconnect elsewhere, so exiting at once is safe.
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
}
