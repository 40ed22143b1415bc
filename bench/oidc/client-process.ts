/**
 * The client side of the OpenID Connect bench, in its own process: rounds of real
 * socketcluster-client connections made `parallel` at a time (each closed after its handshake),
 * and sockets held until the server ends their authentication, timed on the clock this host's
 * processes share. Driven over IPC by ./oidc.ts (messages in ./protocol.ts).
 */
import type { AGClientSocket } from 'socketcluster-client';
import { AUTH_ENDED_EVENT } from '../../sockets/auth-lifecycle.ts';
import { connect } from '../lib/clients.ts';
import { wallMs } from '../lib/timing.ts';
import type { FromClients, ToClients } from './protocol.ts';

const held = new Set<AGClientSocket>();
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

function send(message: FromClients): void {
  process.send?.(message);
}

async function connects(message: Extract<ToClients, { type: 'connects' }>): Promise<void> {
  let started = 0;
  let authenticated = 0;
  let failed = 0;
  let firstError: string | null = null;
  const begin = wallMs();
  const loop = async () => {
    while (started < message.count) {
      started++;
      try {
        const { socket, isAuthenticated } = await connect(message.port, message.token, message.timeoutMs);
        socket.disconnect();
        if (isAuthenticated) authenticated++;
        else {
          failed++;
          firstError ??= 'connected unauthenticated';
        }
      } catch (error) {
        failed++;
        firstError ??= describe(error);
      }
    }
  };
  await Promise.all(Array.from({ length: message.parallel }, loop));
  send({ type: 'connected-all', ms: wallMs() - begin, authenticated, failed, firstError });
}

async function hold(message: Extract<ToClients, { type: 'hold' }>): Promise<void> {
  const { socket, isAuthenticated } = await connect(message.port, message.token);
  if (!isAuthenticated) {
    socket.disconnect();
    return send({ type: 'held', id: message.id, authenticated: false, error: 'not authenticated' });
  }
  held.add(socket);
  void socket
    .receiver(AUTH_ENDED_EVENT)
    .once()
    .then((data: unknown) => {
      const at = wallMs();
      const name = (data as { name?: unknown } | undefined)?.name;
      send({ type: 'ended', id: message.id, at, name: typeof name === 'string' ? name : '?' });
      held.delete(socket);
      socket.disconnect();
    });
  send({ type: 'held', id: message.id, authenticated: true, error: null });
}

process.on('message', (message: ToClients) => {
  const run = async () => {
    switch (message.type) {
      case 'connects':
        return connects(message);
      case 'hold':
        return hold(message);
      case 'close':
        for (const socket of held) socket.disconnect();
        send({ type: 'closed' });
        setTimeout(() => process.exit(0), 100);
        return undefined;
    }
  };
  run().catch((error: unknown) => {
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});

process.on('disconnect', () => process.exit(0));
