import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';

/** A socketcluster-client auth engine over a Map, so a test can start a client with a given token. */
export class MemoryAuthEngine {
  readonly tokens = new Map<string, string>();

  constructor(initial?: string) {
    if (initial !== undefined) this.tokens.set('warden.test', initial);
  }

  get token(): string | null {
    return this.tokens.get('warden.test') ?? null;
  }

  async saveToken(name: string, token: string): Promise<string> {
    this.tokens.set(name, token);
    return token;
  }

  async removeToken(name: string): Promise<string | null> {
    const token = this.tokens.get(name) ?? null;
    this.tokens.delete(name);
    return token;
  }

  async loadToken(name: string): Promise<string | null> {
    return this.tokens.get(name) ?? null;
  }
}

export interface TestClient {
  readonly socket: AGClientSocket;
  readonly auth: MemoryAuthEngine;
}

/** Connection status as the client receives it (SC's typings lack `authError`). */
export interface ConnectStatus {
  isAuthenticated: boolean;
  authError?: { name: string; message: string; reason?: string };
}

/**
 * A real socketcluster-client connected over loopback; resolves once the handshake is done,
 * with the connect status.
 */
export async function connectClient(
  port: number,
  options: {
    token?: string;
    origin?: string;
    autoReconnect?: boolean;
    authEngine?: MemoryAuthEngine;
    /** Extra headers on the WebSocket upgrade (e.g. X-Forwarded-For, as a proxy sets it). */
    headers?: Record<string, string>;
    /** The WebSocket URL's query (e.g. `{ ticket }`). */
    query?: Record<string, string>;
  } = {},
): Promise<TestClient & { status: ConnectStatus }> {
  const auth = options.authEngine ?? new MemoryAuthEngine(options.token);
  const socket = socketClusterClient.create({
    hostname: '127.0.0.1',
    port,
    authTokenName: 'warden.test',
    authEngine: auth as never,
    autoReconnect: options.autoReconnect ?? false,
    // What Warden's browser client uses: back within about a second after a worker goes away.
    autoReconnectOptions: { initialDelay: 300, randomness: 500, multiplier: 1.5, maxDelay: 5000 },
    ackTimeout: 5000,
    connectTimeout: 5000,
    ...(options.query === undefined ? {} : { query: options.query }),
    ...(options.origin === undefined && options.headers === undefined
      ? {}
      : {
          wsOptions: {
            ...(options.origin === undefined ? {} : { origin: options.origin }),
            ...(options.headers === undefined ? {} : { headers: options.headers }),
          },
        }),
  });
  const event = await Promise.race([
    socket.listener('connect').once() as Promise<ConnectStatus>,
    (socket.listener('close').once() as Promise<{ code: number; reason: string }>).then((closed) => {
      throw Object.assign(
        new Error(`closed before connecting: ${closed.code} ${closed.reason ?? ''}`),
        closed,
      );
    }),
  ]);
  return { socket, auth, status: event };
}

/** Error thrown by a rejected invoke/invokePublish, as the client sees it. */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; reason?: string };
  }
  throw new Error('expected a rejection');
}

/** Logs in over the socket and waits until the client has stored the token. */
export async function socketLogin(client: TestClient, username: string, password: string): Promise<string> {
  const stored = client.socket.listener('authenticate').once();
  await client.socket.invoke('login', { username, password });
  await stored;
  return client.socket.signedAuthToken as string;
}
