/**
 * socketcluster-server v20 as a user would run it without Warden, in one of three shapes
 * (SC_STACK): `bare` (no middleware), `passthrough` (an INBOUND middleware that allows every
 * action: the cost of having one at all), `scc` (bare, with its broker engine attached to
 * SocketCluster's own cluster through scc-broker-client; SCC_STATE_PORT names the state server).
 * Tokens are SC's own HS256 JWTs, signed with a KeyObject key. Run forked by ../stacks.ts.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import socketClusterServer from 'socketcluster-server';
import { serveBench } from './ipc.ts';

const require = createRequire(import.meta.url);

/** The part of scc-broker-client's module the bench uses. */
interface SccBrokerClient {
  readonly isReady: boolean;
  readonly sccBrokerURIList: readonly string[];
}
interface SccBrokerClientModule {
  attach(
    brokerEngine: unknown,
    options: {
      stateServerHost: string;
      stateServerPort: number;
      authKey: string;
      instanceId: string;
      instancePort: number;
      instanceIp: string;
      pubSubBatchDuration?: number;
    },
  ): SccBrokerClient;
}

const shape = process.env.SC_STACK ?? 'bare';
const batchDuration = Number(process.env.SCC_PUB_SUB_BATCH_DURATION ?? 0);
if (!['bare', 'passthrough', 'scc'].includes(shape)) throw new Error(`SC_STACK: unknown shape ${shape}`);

const authKey = createSecretKey(randomBytes(32));
const http = createServer();
const agServer = socketClusterServer.attach(http, {
  authKey: authKey as unknown as string,
  authAlgorithm: 'HS256',
  authVerifyAlgorithms: ['HS256'],
});

if (shape === 'passthrough') {
  agServer.setMiddleware(agServer.MIDDLEWARE_INBOUND, async (stream) => {
    for await (const action of stream) action.allow();
  });
}

async function waitForBrokers(client: SccBrokerClient): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(client.isReady && client.sccBrokerURIList.length > 0)) {
    if (Date.now() > deadline) throw new Error('scc-broker-client got no broker list within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

serveBench(
  async () => {
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
    const port = (http.address() as AddressInfo).port;
    if (shape === 'scc') {
      const scc = require('scc-broker-client') as SccBrokerClientModule;
      const client = scc.attach(agServer.brokerEngine, {
        stateServerHost: '127.0.0.1',
        stateServerPort: Number(process.env.SCC_STATE_PORT),
        authKey: process.env.SCC_AUTH_KEY ?? '',
        instanceId: `bench-sc-${process.pid}`,
        instancePort: port,
        instanceIp: '127.0.0.1',
        // As SocketCluster's own boilerplate reads it: unset (or 0) sends each publish at once.
        ...(batchDuration > 0 ? { pubSubBatchDuration: batchDuration } : {}),
      });
      await waitForBrokers(client);
    }
    const token = await agServer.auth.signToken({ sub: 'bench' }, authKey as unknown as string, {
      expiresIn: 3600,
      algorithm: 'HS256',
    });
    if (typeof token !== 'string') throw new Error('SC signed no token');
    return { port, token, others: [] };
  },
  async () => {
    agServer.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  },
);
