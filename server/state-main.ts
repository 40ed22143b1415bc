import { loadConfig } from '../config/index.ts';
import { startStateServer } from '../cluster/state-server.ts';
import { createLogger } from '../log/logger.ts';
import { notifyParent, onShutdown } from './process.ts';

/** `warden state`: the cluster's state server. */
export async function runStateServer(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ role: 'state', level: config.logLevel });
  const state = await startStateServer({ port: config.sccStateServerPort, authKey: config.sccAuthKey, log });
  log.info('state server listening', { port: state.port });
  notifyParent({ type: 'ready', role: 'state' });
  onShutdown(log, () => state.close());
}
