import { loadConfig } from '../config/index.ts';
import { attachToCluster, type ClusterAttachment } from '../cluster/scc-attach.ts';
import { childLogger } from '../log/logger.ts';
import { startTelemetry } from '../server/telemetry.ts';
import { notifyParent, onShutdown } from '../server/process.ts';
import { startWorker } from './create-worker.ts';

/**
 * `warden worker`: one worker process, attached to the SCC cluster whose state server the
 * SCC_STATE_SERVER_* variables name. Under `warden start` several of these share PORT through
 * node:cluster; on Kubernetes each pod runs one.
 */
export async function runWorker(): Promise<void> {
  const config = loadConfig();
  const telemetry = await startTelemetry('worker', config);
  const { log } = telemetry;
  let cluster: ClusterAttachment | null = null;
  const worker = await startWorker({
    config,
    log,
    beforeListen: (agServer) => {
      cluster = attachToCluster(agServer, {
        stateServerHost: config.sccStateServerHost,
        stateServerPort: config.sccStateServerPort,
        authKey: config.sccAuthKey,
        instanceId: `worker-${process.pid}-${Date.now().toString(36)}`,
        instancePort: config.port,
        instanceIp: config.sccInstanceIp ?? '127.0.0.1',
        pubSubBatchDuration: config.sccPubSubBatchDuration,
        log: childLogger(log, { module: 'cluster' }),
      });
    },
    brokerReady: () => cluster?.isReady() ?? false,
  });
  onShutdown(log, async () => {
    await worker.close();
    await telemetry.close();
  });
  await (cluster as ClusterAttachment | null)?.ready;
  log.info('ready', { url: worker.url });
  notifyParent({ type: 'ready', role: 'worker', url: worker.url });
}
