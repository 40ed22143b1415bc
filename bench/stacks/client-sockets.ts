import { io, type Socket as SioSocket } from 'socket.io-client';
import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
import WebSocket from 'ws';
import { MemoryAuthEngine, TOKEN_NAME } from '../lib/clients.ts';
import { withTimeout } from '../lib/timing.ts';
import type { ClientTarget, WsFrame } from './protocol.ts';

/** One client connection to any stack, with the same small pub/sub surface. */
export interface BenchSocket {
  /** Resolves when the server has acknowledged the subscription. */
  subscribe(channel: string): Promise<void>;
  /** Fire and forget, as a chat message would be. */
  publish(channel: string, data: unknown): void;
  /** Every message delivered on any subscribed channel. */
  onMessage(handler: (channel: string, data: unknown) => void): void;
  close(): void;
}

const TIMEOUT_MS = 15_000;

class WsSocket implements BenchSocket {
  private handler: (channel: string, data: unknown) => void = () => {};
  private readonly acks = new Map<string, () => void>();

  private readonly socket: WebSocket;

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as WsFrame;
      if (frame.t === 'm') this.handler(frame.c, frame.d);
      else if (frame.t === 'ok') {
        this.acks.get(frame.c)?.();
        this.acks.delete(frame.c);
      }
    });
  }

  subscribe(channel: string): Promise<void> {
    const acked = new Promise<void>((resolve) => this.acks.set(channel, resolve));
    this.socket.send(JSON.stringify({ t: 's', c: channel } satisfies WsFrame));
    return withTimeout(acked, TIMEOUT_MS, `ws subscribe ${channel}`);
  }

  publish(channel: string, data: unknown): void {
    this.socket.send(JSON.stringify({ t: 'p', c: channel, d: data } satisfies WsFrame));
  }

  onMessage(handler: (channel: string, data: unknown) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.socket.terminate();
  }
}

class ScSocket implements BenchSocket {
  private handler: (channel: string, data: unknown) => void = () => {};

  private readonly socket: AGClientSocket;

  constructor(socket: AGClientSocket) {
    this.socket = socket;
  }

  async subscribe(channel: string): Promise<void> {
    const subscription = this.socket.subscribe(channel);
    const failed = subscription.listener('subscribeFail').once();
    const outcome = await withTimeout(
      Promise.race([
        subscription.listener('subscribe').once(),
        failed.then(({ error }) => {
          throw error;
        }),
      ]),
      TIMEOUT_MS,
      `SC subscribe ${channel}`,
    );
    subscription.closeListener('subscribe');
    subscription.closeListener('subscribeFail');
    void outcome;
    void (async () => {
      for await (const data of subscription) this.handler(channel, data);
    })();
  }

  publish(channel: string, data: unknown): void {
    void this.socket.transmitPublish(channel, data);
  }

  onMessage(handler: (channel: string, data: unknown) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.socket.killAllListeners();
    this.socket.disconnect();
  }
}

class SioClient implements BenchSocket {
  private readonly socket: SioSocket;

  constructor(socket: SioSocket) {
    this.socket = socket;
  }

  subscribe(channel: string): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve) => this.socket.emit('subscribe', channel, () => resolve())),
      TIMEOUT_MS,
      `Socket.IO subscribe ${channel}`,
    );
  }

  publish(channel: string, data: unknown): void {
    this.socket.emit('publish', channel, data);
  }

  onMessage(handler: (channel: string, data: unknown) => void): void {
    this.socket.on('message', handler);
  }

  close(): void {
    this.socket.removeAllListeners();
    this.socket.disconnect();
  }
}

async function connectWs(target: ClientTarget): Promise<BenchSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${target.port}/`);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    TIMEOUT_MS,
    'ws open',
  );
  socket.on('error', () => {});
  return new WsSocket(socket);
}

async function connectSc(target: ClientTarget): Promise<BenchSocket> {
  const socket = socketClusterClient.create({
    hostname: '127.0.0.1',
    port: target.port,
    ...(target.token === null ? {} : { authEngine: new MemoryAuthEngine(target.token) }),
    authTokenName: TOKEN_NAME,
    autoReconnect: false,
    connectTimeout: TIMEOUT_MS,
    ackTimeout: TIMEOUT_MS,
  });
  const closed = socket.listener('close').once();
  try {
    const status = await Promise.race([
      socket.listener('connect').once(),
      closed.then((event) => {
        throw new Error(`closed before connecting: ${event.code} ${event.reason ?? ''}`);
      }),
    ]);
    if (target.token !== null && !status.isAuthenticated) throw new Error('connected unauthenticated');
  } catch (error) {
    socket.disconnect();
    throw error;
  } finally {
    socket.closeListener('close');
    socket.closeListener('connect');
  }
  return new ScSocket(socket);
}

async function connectSio(target: ClientTarget): Promise<BenchSocket> {
  const socket = io(`http://127.0.0.1:${target.port}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: TIMEOUT_MS,
    ...(target.token === null ? {} : { auth: { token: target.token } }),
  });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      }),
      TIMEOUT_MS,
      'Socket.IO connect',
    );
  } catch (error) {
    socket.disconnect();
    throw error;
  }
  return new SioClient(socket);
}

/**
 * Opens one connection to the stack over loopback and resolves once it is usable (and, with a
 * token, authenticated); rejects otherwise.
 *
 * @example
 *   const socket = await connectTo({ protocol: 'sc', port, token });
 *   await socket.subscribe('chat.a1');
 */
export function connectTo(target: ClientTarget): Promise<BenchSocket> {
  if (target.protocol === 'ws') return connectWs(target);
  if (target.protocol === 'sc') return connectSc(target);
  return connectSio(target);
}
