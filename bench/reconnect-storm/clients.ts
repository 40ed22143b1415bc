/**
 * The client side of the reconnect-storm bench, in its own process (child_process.fork) so that
 * thousands of socketcluster-client sockets do not share the bench's event loop. Every socket
 * reconnects by itself with the browser client's back-off. The bench runs several: bulk ones,
 * and one whose few sockets each send a round trip at a steady rate, so that the round trips are
 * not timed by an event loop that is itself busy reconnecting a thousand sockets. Driven over IPC by ./storm.ts (messages in ./protocol.ts).
 */
import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
import { MemoryAuthEngine, TOKEN_NAME } from '../lib/clients.ts';
import { wallMs } from '../lib/timing.ts';
import type { FromStormClients, RoundTrip, ToStormClients } from './protocol.ts';

interface Tracked {
  readonly socket: AGClientSocket;
  /** Closed since 'arm' and not yet back. */
  away: boolean;
  moved: boolean;
}

let tracked: Tracked[] = [];
const timers = new Set<NodeJS.Timeout>();
let armed = false;
let away = 0;
let closed = 0;
let failedAttempts = 0;
let reportedBack = false;
let backAt: number[] = [];
let closeCodes: Record<string, number> = {};
/** `moved` is read at report time: a trip that failed because its socket closed counts as moved. */
let roundTrips: Array<Omit<RoundTrip, 'moved'> & { readonly entry: Tracked }> = [];

function send(message: FromStormClients): void {
  process.send?.(message);
}

function follow(entry: Tracked): void {
  const { socket } = entry;
  void (async () => {
    for await (const { code } of socket.listener('close')) {
      if (!armed) continue;
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      if (entry.away) failedAttempts++;
      else {
        entry.away = true;
        entry.moved = true;
        away++;
        closed++;
      }
    }
  })();
  void (async () => {
    for await (const status of socket.listener('connect')) {
      if (!entry.away) continue;
      if (!status.isAuthenticated) {
        failedAttempts++;
        continue;
      }
      entry.away = false;
      away--;
      backAt.push(wallMs());
      if (away === 0 && !reportedBack) {
        reportedBack = true;
        send({ type: 'allBack', at: wallMs() });
      }
    }
  })();
}

function probe(entry: Tracked, intervalMs: number): void {
  const tick = () => {
    const timer = setTimeout(async () => {
      timers.delete(timer);
      if (entry.socket.state === 'open' && armed) {
        const at = wallMs();
        let failed = false;
        try {
          await entry.socket.invoke('whoami', {});
        } catch {
          failed = true;
        }
        roundTrips.push({ at, ms: wallMs() - at, failed, entry });
      }
      tick();
    }, intervalMs);
    timers.add(timer);
  };
  // Spread the probes over the interval.
  const first = setTimeout(() => {
    timers.delete(first);
    tick();
  }, Math.random() * intervalMs);
  timers.add(first);
}

async function connectAll(message: Extract<ToStormClients, { type: 'connect' }>): Promise<void> {
  const started = wallMs();
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  const lane = async () => {
    while (next < message.sockets) {
      const index = next++;
      const socket = socketClusterClient.create({
        hostname: '127.0.0.1',
        port: message.port,
        authEngine: new MemoryAuthEngine(message.token),
        authTokenName: TOKEN_NAME,
        autoReconnect: true,
        autoReconnectOptions: { ...message.reconnect },
      });
      // A refused handshake (SERVER_BUSY) is retried by the socket itself: wait for the connect.
      const status = await socket
        .listener('connect')
        .once(60_000)
        .catch(() => ({ isAuthenticated: false }));
      if (!status.isAuthenticated) {
        failed++;
        firstError ??= `socket ${index} did not connect authenticated`;
        socket.disconnect();
        continue;
      }
      const entry: Tracked = { socket, away: false, moved: false };
      tracked.push(entry);
      follow(entry);
      if (message.probe) probe(entry, message.probeIntervalMs);
    }
  };
  await Promise.all(Array.from({ length: message.concurrency }, lane));
  send({ type: 'connected', sockets: tracked.length, failed, firstError, ms: wallMs() - started });
}

function reset(): void {
  armed = false;
  for (const timer of timers) clearTimeout(timer);
  timers.clear();
  for (const { socket } of tracked) {
    socket.killAllListeners();
    socket.disconnect();
  }
  tracked = [];
  away = 0;
  closed = 0;
  failedAttempts = 0;
  reportedBack = false;
  backAt = [];
  closeCodes = {};
  roundTrips = [];
}

process.on('message', (message: ToStormClients) => {
  try {
    if (message.type === 'connect') void connectAll(message).catch(fatal);
    else if (message.type === 'arm') {
      armed = true;
      send({ type: 'armed' });
    } else if (message.type === 'report') {
      send({
        type: 'report',
        closed,
        backAt,
        failedAttempts,
        closeCodes,
        roundTrips: roundTrips.map(({ at, ms, failed, entry }) => ({ at, ms, failed, moved: entry.moved })),
      });
    } else if (message.type === 'reset') {
      reset();
      send({ type: 'reset' });
    } else if (message.type === 'close') {
      reset();
      send({ type: 'closed' });
      process.disconnect();
      setTimeout(() => process.exit(0), 100).unref();
    }
  } catch (error) {
    fatal(error);
  }
});

function fatal(error: unknown): void {
  send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
