/**
 * Socket.IO v4 with a JWT check at connection (jsonwebtoken, HS256, a KeyObject key), WebSocket
 * transport only, the same pub/sub over events: 'subscribe' (acknowledged) joins a room,
 * 'publish' emits 'message' to the room. SIO_STACK=single is one process; SIO_STACK=cluster is a
 * node:cluster primary with SIO_WORKERS workers sharing the port through
 * @socket.io/cluster-adapter (rooms and broadcasts cross workers through the primary).
 * Run forked by ../stacks.ts.
 */
import cluster from 'node:cluster';
import { createServer as createHttpServer } from 'node:http';
import { createSecretKey, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createAdapter, setupPrimary } from '@socket.io/cluster-adapter';
import jwt from 'jsonwebtoken';
import { Server } from 'socket.io';
import { heapAfterGc, serveBench } from './ipc.ts';

const shape = process.env.SIO_STACK ?? 'single';
if (!['single', 'cluster'].includes(shape)) throw new Error(`SIO_STACK: unknown shape ${shape}`);
const workers = Number(process.env.SIO_WORKERS ?? '2');

/** Between the primary and its workers (beside the adapter's own messages). */
type WorkerMessage =
  | { readonly benchType: 'listening'; readonly port: number }
  | { readonly benchType: 'heap'; readonly bytes: number };

function startIo(secretHex: string, clustered: boolean): Promise<number> {
  const key = createSecretKey(Buffer.from(secretHex, 'hex'));
  const http = createHttpServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  if (clustered) io.adapter(createAdapter());
  io.use((socket, next) => {
    const token: unknown = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') return next(new Error('no token'));
    try {
      socket.data.claims = jwt.verify(token, key, { algorithms: ['HS256'] });
      next();
    } catch {
      next(new Error('invalid token'));
    }
  });
  io.on('connection', (socket) => {
    socket.on('subscribe', (channel: unknown, ack: unknown) => {
      if (typeof channel !== 'string') return;
      void socket.join(channel);
      if (typeof ack === 'function') (ack as () => void)();
    });
    socket.on('publish', (channel: unknown, data: unknown) => {
      if (typeof channel === 'string') io.to(channel).emit('message', channel, data);
    });
  });
  return new Promise((resolve) =>
    http.listen(0, '127.0.0.1', () => resolve((http.address() as AddressInfo).port)),
  );
}

const sign = (secretHex: string) =>
  jwt.sign({ sub: 'bench' }, createSecretKey(Buffer.from(secretHex, 'hex')), {
    algorithm: 'HS256',
    expiresIn: 3600,
  });

if (cluster.isWorker) {
  // A cluster worker: listens (node:cluster shares one port), answers the primary's heap requests.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: { benchType?: string }) => {
    if (message.benchType === 'exit') process.exit(0);
    if (message.benchType === 'heap')
      process.send?.({ benchType: 'heap', bytes: heapAfterGc() } satisfies WorkerMessage);
  });
  void startIo(process.env.SIO_SECRET ?? '', true).then((port) =>
    process.send?.({ benchType: 'listening', port } satisfies WorkerMessage),
  );
} else if (shape === 'single') {
  const secret = randomBytes(32).toString('hex');
  serveBench(
    async () => ({ port: await startIo(secret, false), token: sign(secret), others: [] }),
    async () => {},
  );
} else {
  const secret = randomBytes(32).toString('hex');
  setupPrimary();
  cluster.setupPrimary({ serialization: 'advanced' });
  const forked = Array.from({ length: workers }, () => cluster.fork({ SIO_SECRET: secret }));
  const heapOf = (worker: (typeof forked)[number]) =>
    new Promise<number>((resolve) => {
      const onMessage = (message: WorkerMessage) => {
        if (message.benchType !== 'heap') return;
        worker.off('message', onMessage);
        resolve(message.bytes);
      };
      worker.on('message', onMessage);
      worker.send({ benchType: 'heap' });
    });
  serveBench(
    async () => {
      const ports = await Promise.all(
        forked.map(
          (worker) =>
            new Promise<number>((resolve, reject) => {
              worker.on('message', (message: WorkerMessage) => {
                if (message.benchType === 'listening') resolve(message.port);
              });
              worker.once('exit', (code) => reject(new Error(`a Socket.IO worker exited (${code})`)));
            }),
        ),
      );
      const others = forked.map((worker) => ({ pid: worker.process.pid ?? 0, role: 'worker' }));
      return { port: ports[0] ?? 0, token: sign(secret), others };
    },
    // Asked to exit (not killed) so that a --cpu-prof profile gets written; killed if slow.
    async () => {
      await Promise.all(
        forked.map(
          (worker) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => worker.kill('SIGKILL'), 3_000);
              worker.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              worker.send({ benchType: 'exit' });
            }),
        ),
      );
    },
    async () => (await Promise.all(forked.map(heapOf))).reduce((sum, bytes) => sum + bytes, heapAfterGc()),
  );
}
