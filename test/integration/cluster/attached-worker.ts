/**
 * A bare AGServer whose broker engine is attached to the cluster as `warden worker` attaches it
 * (cluster/scc-attach.ts), forked by broker-channels.test.ts so that the test can ask what a
 * real worker process cannot tell from outside: its consumers of broker channels, its broker list;
 * and publish from it. Environment: STATE_PORT, SCC_AUTH_KEY, BATCH_MS (unset: no batching).
 * Answers `{id, op}` IPC requests with `{id, result}` or `{id, error}`; exits when the test goes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import socketClusterServer from 'socketcluster-server';
import { attachToCluster } from '../../../cluster/scc-attach.ts';
import { createLogger } from '../../../log/logger.ts';

export type AttachedWorkerRequest =
  | { id: number; op: 'consumers' }
  | { id: number; op: 'brokers' }
  | { id: number; op: 'publish'; channel: string; data: unknown };

export interface AttachedWorkerReply {
  id: number;
  result?: unknown;
  error?: string;
}

const http = createServer();
const agServer = socketClusterServer.attach(http);
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
const port = (http.address() as AddressInfo).port;
const cluster = attachToCluster(agServer, {
  stateServerHost: '127.0.0.1',
  stateServerPort: Number(process.env.STATE_PORT),
  authKey: process.env.SCC_AUTH_KEY ?? '',
  instanceId: `attached-worker-${process.pid}`,
  instancePort: port,
  instanceIp: '127.0.0.1',
  pubSubBatchDuration: process.env.BATCH_MS === undefined ? null : Number(process.env.BATCH_MS),
  log: createLogger({ role: 'worker', level: 'error' }),
});
await cluster.ready;

const answer = async (request: AttachedWorkerRequest): Promise<unknown> => {
  switch (request.op) {
    case 'consumers':
      return cluster.channelConsumers();
    case 'brokers':
      return cluster.brokerURIs();
    case 'publish':
      return agServer.exchange.invokePublish(request.channel, request.data);
  }
};
process.on('message', (request: AttachedWorkerRequest) => {
  answer(request).then(
    (result) => process.send?.({ id: request.id, result } satisfies AttachedWorkerReply),
    (error: unknown) =>
      process.send?.({ id: request.id, error: String(error) } satisfies AttachedWorkerReply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, result: port } satisfies AttachedWorkerReply);
