/**
 * The client side of the renewal bench, run in its own process (child_process.fork) so that
 * ten thousand socketcluster-client sockets do not share the event loop being measured.
 * Driven over IPC by bench/renewal/stall.ts (messages in ./protocol.ts).
 */
import type { AGClientSocket } from 'socketcluster-client';
import { connect } from '../lib/clients.ts';
import { wallMs } from '../lib/timing.ts';
import type { FromClients, RenewalCounts, ToClients } from './protocol.ts';

const sockets: AGClientSocket[] = [];
let armed = false;
let expected = 0;
let reported = false;
const counts = {
  renewed: 0,
  firstAt: null as number | null,
  lastAt: null as number | null,
  deauthenticated: 0,
  closed: 0,
};

function send(message: FromClients): void {
  process.send?.(message);
}

function snapshot(): RenewalCounts {
  return { ...counts };
}

function follow(socket: AGClientSocket): void {
  void (async () => {
    for await (const _ of socket.listener('authenticate')) {
      if (!armed) continue;
      const at = wallMs();
      counts.renewed++;
      counts.firstAt ??= at;
      counts.lastAt = at;
      if (!reported && counts.renewed >= expected) {
        reported = true;
        send({ type: 'renewals', complete: true, ...snapshot() });
      }
    }
  })();
  void (async () => {
    for await (const _ of socket.listener('deauthenticate')) if (armed) counts.deauthenticated++;
  })();
  void (async () => {
    for await (const _ of socket.listener('close')) if (armed) counts.closed++;
  })();
}

async function connectAll(port: number, tokens: readonly string[], concurrency: number): Promise<void> {
  const started = wallMs();
  let next = 0;
  let authenticated = 0;
  let failed = 0;
  let firstError: string | null = null;
  const lane = async () => {
    while (next < tokens.length) {
      const token = tokens[next++] as string;
      try {
        const { socket, isAuthenticated } = await connect(port, token, 30_000);
        sockets.push(socket);
        follow(socket);
        if (isAuthenticated) authenticated++;
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  send({
    type: 'connected',
    sockets: sockets.length,
    authenticated,
    failed,
    firstError,
    ms: wallMs() - started,
  });
}

async function closeAll(): Promise<void> {
  armed = false;
  for (const socket of sockets.splice(0)) {
    socket.killAllListeners();
    socket.disconnect();
  }
  send({ type: 'closed' });
  // Let the close frames and the IPC message leave before exiting.
  setTimeout(() => process.exit(0), 200);
}

process.on('message', (message: ToClients) => {
  const run = async () => {
    switch (message.type) {
      case 'connect':
        return connectAll(message.port, message.tokens, message.concurrency);
      case 'arm':
        Object.assign(counts, { renewed: 0, firstAt: null, lastAt: null, deauthenticated: 0, closed: 0 });
        expected = message.expected;
        reported = false;
        armed = true;
        return send({ type: 'armed' });
      case 'report':
        return send({ type: 'renewals', complete: counts.renewed >= expected, ...snapshot() });
      case 'close':
        return closeAll();
    }
  };
  run().catch((error: unknown) => {
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});

// The parent went away (crashed or killed): do not linger with ten thousand sockets.
process.on('disconnect', () => process.exit(0));
