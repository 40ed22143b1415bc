import { loadConfig } from '../config/index.ts';
import { startStateServer } from '../cluster/state-server.ts';
import { startTelemetry } from './telemetry.ts';
import { notifyParent, onShutdown } from './process.ts';

/** `warden state`: the cluster's state server, on SCC_BIND_HOST:SCC_STATE_SERVER_PORT. */
export async function runStateServer(): Promise<void> {
  const config = loadConfig();
  const telemetry = await startTelemetry('state', config);
  const { log } = telemetry;
  const state = await startStateServer({
    port: config.sccStateServerPort,
    host: config.sccBindHost,
    authKey: config.sccAuthKey,
    log,
  });
  log.info('state server listening', { host: config.sccBindHost, port: state.port });
  notifyParent({ type: 'ready', role: 'state' });
  onShutdown(log, async () => {
    await state.close();
    await telemetry.close();
  });
}
