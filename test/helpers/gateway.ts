import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
import { MemoryAuthEngine, type ConnectStatus } from './clients.ts';

/** An identity header as APISIX's openid-connect `set_userinfo_header` sends it: base64 JSON. */
export function userinfo(claims: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(claims)).toString('base64');
}

export type Outcome =
  | { readonly connected: true; readonly socket: AGClientSocket; readonly status: ConnectStatus }
  | {
      readonly connected: false;
      readonly code: number;
      readonly error: (Error & { reason?: string }) | null;
    };

/** A real client to `port` from the loopback address `from`, with extra upgrade headers. */
export async function connect(
  port: number,
  from: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const socket = socketClusterClient.create({
    hostname: '127.0.0.1',
    port,
    authEngine: new MemoryAuthEngine() as never,
    autoReconnect: false,
    ackTimeout: 5000,
    wsOptions: { localAddress: from, headers } as never,
  });
  let error: (Error & { reason?: string }) | null = null;
  void (async () => {
    // The handshake's own error comes first; SocketCluster's SocketProtocolError for the close follows.
    for await (const event of socket.listener('error')) error ??= (event as { error: Error }).error;
  })();
  const outcome = await Promise.race([
    (socket.listener('connect').once() as Promise<ConnectStatus>).then((status): Outcome => ({
      connected: true,
      socket,
      status,
    })),
    (socket.listener('close').once() as Promise<{ code: number }>).then(({ code }): Outcome => ({
      connected: false,
      code,
      error,
    })),
  ]);
  if (!outcome.connected) socket.killAllListeners();
  return outcome;
}
