import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';

type AuthEngine = NonNullable<AGClientSocket.ClientOptions['authEngine']>;
/** A signed token (what Warden stores) or a decoded one, as the client's engine API allows. */
type StoredToken = NonNullable<Awaited<ReturnType<AuthEngine['loadToken']>>>;

export const TOKEN_NAME = 'x';

/** socketcluster-client's auth engine over a Map, so a socket starts with a given token. */
export class MemoryAuthEngine implements AuthEngine {
  private readonly tokens = new Map<string, StoredToken>();

  constructor(token?: string) {
    if (token !== undefined) this.tokens.set(TOKEN_NAME, token);
  }

  async saveToken(name: string, token: StoredToken): Promise<StoredToken> {
    this.tokens.set(name, token);
    return token;
  }

  async removeToken(name: string): Promise<StoredToken | null> {
    const token = this.tokens.get(name) ?? null;
    this.tokens.delete(name);
    return token;
  }

  async loadToken(name: string): Promise<StoredToken | null> {
    return this.tokens.get(name) ?? null;
  }
}

export interface Connected {
  readonly socket: AGClientSocket;
  readonly isAuthenticated: boolean;
}

/**
 * Opens one real socketcluster-client connection over loopback with `token` and resolves after
 * the handshake; rejects if the socket closes first or the handshake takes longer than `timeoutMs`.
 */
export async function connect(port: number, token: string, timeoutMs = 15_000): Promise<Connected> {
  const socket = socketClusterClient.create({
    hostname: '127.0.0.1',
    port,
    authEngine: new MemoryAuthEngine(token),
    authTokenName: TOKEN_NAME,
    autoReconnect: false,
    connectTimeout: timeoutMs,
    ackTimeout: timeoutMs,
  });
  const closed = socket.listener('close').once();
  const opened = socket.listener('connect').once();
  try {
    const status = await Promise.race([
      opened,
      closed.then((event) => {
        throw new Error(`closed before connecting: ${event.code} ${event.reason ?? ''}`);
      }),
    ]);
    return { socket, isAuthenticated: status.isAuthenticated };
  } catch (error) {
    socket.disconnect();
    throw error;
  } finally {
    socket.closeListener('close');
    socket.closeListener('connect');
  }
}
