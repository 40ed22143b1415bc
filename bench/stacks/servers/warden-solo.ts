/**
 * Warden's worker alone: startWorker() from the worker's composition root, without attaching it
 * to the cluster (no state server, no broker), on a sqlite store in WARDEN_BENCH_DIR. It makes
 * the bench user (publish and subscribe `chat.*`) and issues its token directly.
 * WARDEN_BENCH_ENV (JSON) is the configuration's environment, the bench's limits and the
 * user's --warden-env included. With WARDEN_BENCH_STATE_PORT (and SCC_AUTH_KEY), the worker is
 * attached to that state server's cluster as `warden worker` attaches it (worker/main.ts). Run
 * forked by ../stacks.ts.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { attachToCluster, type ClusterAttachment } from '../../../cluster/scc-attach.ts';
import { parseConfig } from '../../../config/index.ts';
import { childLogger, createLogger } from '../../../log/logger.ts';
import { startWorker, type WardenWorker } from '../../../worker/create-worker.ts';
import { serveBench } from './ipc.ts';

let worker: WardenWorker | null = null;

serveBench(
  async () => {
    const extra = JSON.parse(process.env.WARDEN_BENCH_ENV ?? '{}') as Record<string, string>;
    const config = parseConfig(
      {
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: `sqlite:${join(process.env.WARDEN_BENCH_DIR ?? '.', 'solo.db')}`,
        PASSWORD_HASH_COST: '14',
        LOG_LEVEL: 'error',
        ...extra,
      },
      {
        authKey: randomBytes(32).toString('hex'),
        sccAuthKey: process.env.SCC_AUTH_KEY ?? randomBytes(32).toString('hex'),
      },
    );
    const log = createLogger({ role: 'worker', level: config.logLevel });
    const statePort = process.env.WARDEN_BENCH_STATE_PORT;
    let cluster: ClusterAttachment | null = null;
    const live = await startWorker({
      config,
      log,
      beforeListen:
        statePort === undefined
          ? undefined
          : (agServer) => {
              cluster = attachToCluster(agServer, {
                stateServerHost: '127.0.0.1',
                stateServerPort: Number(statePort),
                authKey: config.sccAuthKey,
                instanceId: `bench-warden-${process.pid}`,
                instancePort: config.port,
                instanceIp: '127.0.0.1',
                pubSubBatchDuration: config.sccPubSubBatchDuration,
                log: childLogger(log, { module: 'cluster' }),
              });
            },
      brokerReady: () => cluster?.isReady() ?? true,
    });
    worker = live;
    await (cluster as ClusterAttachment | null)?.ready;
    const user = await live.store.createUser({
      username: 'bench',
      // Never logged in with: the token is issued directly.
      passwordHash: 'bench:no-password',
      tenant: null,
      roles: [],
      publish: ['chat.*'],
      subscribe: ['chat.*'],
      invoke: [],
    });
    return { port: live.port, token: live.tokens.issue(user).token, others: [] };
  },
  async () => {
    await worker?.close();
  },
);
