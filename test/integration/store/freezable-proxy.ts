import { EventEmitter, once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export interface FreezableProxy {
  readonly port: number;
  /**
   * Stops forwarding in both directions and leaves every connection open, new ones included: a
   * server that stopped answering (stopped process, dropped packets) rather than one that is down.
   * What arrives meanwhile is held back.
   */
  freeze(): void;
  /** Resolves when the next bytes from a client are held back: a request is then in flight. */
  requestHeld(): Promise<void>;
  /** Forwards again, what was held back first. */
  thaw(): void;
  /** Destroys every connection and stops listening: a server that went away. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly held: Array<{ to: Socket; chunk: Buffer }>;
}

/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of `target`, for putting a server into states a test
 * cannot otherwise reach. Volumes are tiny, so it ignores backpressure.
 *
 * @example
 *   const proxy = await startFreezableProxy({ host: '127.0.0.1', port: 3306 });
 *   proxy.freeze();
 */
export async function startFreezableProxy(target: { host: string; port: number }): Promise<FreezableProxy> {
  const pairs = new Set<Pair>();
  const events = new EventEmitter();
  let frozen = false;
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    const teardown = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    const relay = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!frozen) return void to.write(chunk);
        pair.held.push({ to, chunk });
        if (from === client) events.emit('held');
      });
      from.on('error', teardown);
      from.on('close', teardown);
    };
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    freeze() {
      frozen = true;
    },
    requestHeld: async () => void (await once(events, 'held')),
    thaw() {
      frozen = false;
      for (const pair of pairs) for (const { to, chunk } of pair.held.splice(0)) to.write(chunk);
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      return closed;
    },
  };
}
