/**
 * The client side of the stacks bench, in its own process so that the clients' CPU is not the
 * servers': connects/s, 1:1 pub/sub, fan-out and held idle sockets against any stack, speaking
 * its protocol (./client-sockets.ts). Driven over IPC by ./stacks.ts (messages in ./protocol.ts).
 */
import { sleep, wallMs } from '../lib/timing.ts';
import { connectTo, type BenchSocket } from './client-sockets.ts';
import { channelName, type ClientTarget, type FromClients, type ToClients } from './protocol.ts';

/**
 * A window slot given up as lost after this long without progress on its socket: a last resort
 * (latency under load can reach a second; probes, below, keep SCC's early losses out).
 */
const STALL_MS = 5_000;
/** How often a probe is re-sent until it comes back, ms. */
const PROBE_EVERY_MS = 250;
const PROBE_TIMEOUT_MS = 30_000;

/** A connects run stops after this long whatever it counted, ms. */
const CONNECTS_MAX_MS = 30_000;

const isProbe = (data: unknown) => (data as { p?: unknown } | null)?.p === 1;

/**
 * Publishes a probe on each not yet `ready` channel every PROBE_EVERY_MS until every one has
 * come back: SCC (without Warden) acknowledges a subscription before its broker has it, and a
 * message published in that gap is lost, which would leave a hole in the in-flight window.
 */
async function probeUntilReady(count: number, ready: () => number, probe: () => void): Promise<void> {
  const deadline = wallMs() + PROBE_TIMEOUT_MS;
  while (ready() < count) {
    if (wallMs() > deadline) throw new Error(`only ${ready()} of ${count} subscriptions delivered a probe`);
    probe();
    await sleep(PROBE_EVERY_MS);
  }
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));
const send = (message: FromClients) => process.send?.(message);
let held: BenchSocket[] = [];
let run = 0;

/** Calls `work(i)` for i in [0, count) with at most `parallel` at once; counts failures. */
async function inParallel(
  count: number,
  parallel: number,
  work: (i: number) => Promise<void>,
): Promise<{ failed: number; firstError: string | null }> {
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  const loop = async () => {
    while (next < count) {
      const i = next++;
      try {
        await work(i);
      } catch (error) {
        failed++;
        firstError ??= describe(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, loop));
  return { failed, firstError };
}

/**
 * Connects `parallel` at a time, each closed after its handshake: one round of warm-up per loop,
 * then connects until the window has passed and at least two per loop have completed (so a slow
 * host still yields a figure), at most CONNECTS_MAX_MS; the rate counts until the last one is done.
 */
async function connects(message: Extract<ToClients, { type: 'connects' }>): Promise<void> {
  let failed = 0;
  let firstError: string | null = null;
  const once = async (): Promise<boolean> => {
    try {
      (await connectTo(message.target)).close();
      return true;
    } catch (error) {
      failed++;
      firstError ??= describe(error);
      await sleep(10);
      return false;
    }
  };
  await Promise.all(Array.from({ length: message.parallel }, once));
  failed = 0;
  firstError = null;
  const start = wallMs();
  let done = 0;
  const loop = async () => {
    for (;;) {
      const elapsed = wallMs() - start;
      if (elapsed > CONNECTS_MAX_MS || (elapsed >= message.durationMs && done >= 2 * message.parallel))
        return;
      if (await once()) done++;
    }
  };
  await Promise.all(Array.from({ length: message.parallel }, loop));
  send({ type: 'connects', connects: { count: done, ms: wallMs() - start }, failed, firstError });
}

/** Opens `count` sockets, 20 at a time; throws if any failed (the figures would mean nothing). */
async function openSockets(target: ClientTarget, count: number): Promise<BenchSocket[]> {
  const sockets: BenchSocket[] = [];
  const { failed, firstError } = await inParallel(count, 20, async () => {
    sockets.push(await connectTo(target));
  });
  if (failed > 0) {
    for (const socket of sockets) socket.close();
    throw new Error(`${failed} of ${count} connections failed: ${firstError}`);
  }
  return sockets;
}

/** Runs the measured window: warm-up, 'window-start', duration, 'window-end' with the count in it. */
async function measure(
  warmupMs: number,
  durationMs: number,
  counted: () => number,
  lost: () => number,
): Promise<void> {
  await sleep(warmupMs);
  send({ type: 'window-start' });
  const startCount = counted();
  const startLost = lost();
  const start = wallMs();
  await sleep(durationMs);
  const count = counted() - startCount;
  const ms = wallMs() - start;
  const lostInWindow = lost() - startLost;
  send({
    type: 'window-end',
    window: { count, ms },
    failed: lostInWindow,
    firstError:
      lostInWindow > 0
        ? `${lostInWindow} window slots given up as lost (no delivery within ${STALL_MS} ms)`
        : null,
  });
}

async function pubsub(message: Extract<ToClients, { type: 'pubsub' }>): Promise<void> {
  const kind = `p${run++}n`;
  const sockets = await openSockets(message.target, message.sockets);
  let delivered = 0;
  let lost = 0;
  let running = true;
  const outstanding = new Array<number>(sockets.length).fill(0);
  const progressAt = new Array<number>(sockets.length).fill(0);
  const probed = new Set<number>();
  try {
    await inParallel(sockets.length, 20, async (i) => {
      const socket = sockets[i] as BenchSocket;
      const channel = channelName(kind, i);
      socket.onMessage((got, data) => {
        if (got !== channel) return;
        if (isProbe(data)) return void probed.add(i);
        delivered++;
        outstanding[i] = (outstanding[i] as number) - 1;
        progressAt[i] = wallMs();
        if (running) {
          socket.publish(channel, { s: i, n: delivered });
          outstanding[i] = (outstanding[i] as number) + 1;
        }
      });
      await socket.subscribe(channel);
    });
    const refill = (i: number) => {
      const socket = sockets[i] as BenchSocket;
      while ((outstanding[i] as number) < message.inFlight) {
        socket.publish(channelName(kind, i), { s: i, n: 0 });
        outstanding[i] = (outstanding[i] as number) + 1;
      }
      progressAt[i] = wallMs();
    };
    await probeUntilReady(
      sockets.length,
      () => probed.size,
      () => {
        for (let i = 0; i < sockets.length; i++) {
          if (!probed.has(i)) sockets[i]?.publish(channelName(kind, i), { p: 1 });
        }
      },
    );
    for (let i = 0; i < sockets.length; i++) refill(i);
    const watchdog = setInterval(() => {
      const now = wallMs();
      for (let i = 0; i < sockets.length; i++) {
        if (running && now - (progressAt[i] as number) > STALL_MS && (outstanding[i] as number) > 0) {
          lost += outstanding[i] as number;
          outstanding[i] = 0;
          refill(i);
        }
      }
    }, STALL_MS / 4);
    await measure(
      message.warmupMs,
      message.durationMs,
      () => delivered,
      () => lost,
    );
    running = false;
    clearInterval(watchdog);
  } finally {
    running = false;
    for (const socket of sockets) socket.close();
  }
}

async function fanout(message: Extract<ToClients, { type: 'fanout' }>): Promise<void> {
  const channel = channelName(`f${run++}n`, 0);
  const subscribers = await openSockets(message.target, message.subscribers);
  const [publisher] = await openSockets(message.target, 1);
  let delivered = 0;
  let published = 0;
  /** Deliveries given up as lost (so that the window reopens after a stall). */
  let lost = 0;
  let running = true;
  let progressAt = wallMs();
  const subs = subscribers.length;
  const refill = () => {
    while (running && published * subs - delivered - lost < message.inFlight * subs) {
      published++;
      publisher?.publish(channel, { n: published });
    }
  };
  const probed = new Set<number>();
  try {
    await inParallel(subs, 20, async (i) => {
      const socket = subscribers[i] as BenchSocket;
      socket.onMessage((got, data) => {
        if (got !== channel) return;
        if (isProbe(data)) return void probed.add(i);
        delivered++;
        progressAt = wallMs();
        refill();
      });
      await socket.subscribe(channel);
    });
    await probeUntilReady(
      subs,
      () => probed.size,
      () => publisher?.publish(channel, { p: 1 }),
    );
    refill();
    const watchdog = setInterval(() => {
      if (running && wallMs() - progressAt > STALL_MS) {
        lost = published * subs - delivered;
        progressAt = wallMs();
        refill();
      }
    }, STALL_MS / 4);
    await measure(
      message.warmupMs,
      message.durationMs,
      () => delivered,
      () => 0,
    );
    running = false;
    clearInterval(watchdog);
  } finally {
    running = false;
    publisher?.close();
    for (const socket of subscribers) socket.close();
  }
}

async function hold(message: Extract<ToClients, { type: 'hold' }>): Promise<void> {
  const { failed, firstError } = await inParallel(message.sockets, message.parallel, async () => {
    held.push(await connectTo(message.target));
  });
  send({ type: 'held', sockets: held.length, failed, firstError });
}

async function subscribeHeld(message: Extract<ToClients, { type: 'subscribe-held' }>): Promise<void> {
  const kind = `h${run++}n`;
  let subscriptions = 0;
  const { failed, firstError } = await inParallel(
    held.length * message.perSocket,
    message.parallel,
    async (j) => {
      const socket = held[j % held.length] as BenchSocket;
      await socket.subscribe(channelName(kind, j % held.length, Math.floor(j / held.length)));
      subscriptions++;
    },
  );
  send({ type: 'subscribed', subscriptions, failed, firstError });
}

async function handle(message: ToClients): Promise<void> {
  switch (message.type) {
    case 'connects':
      return connects(message);
    case 'pubsub':
      return pubsub(message);
    case 'fanout':
      return fanout(message);
    case 'hold':
      return hold(message);
    case 'subscribe-held':
      return subscribeHeld(message);
    case 'release':
      for (const socket of held) socket.close();
      held = [];
      return void send({ type: 'released' });
    case 'close':
      for (const socket of held) socket.close();
      process.exit(0);
  }
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message: ToClients) => {
  handle(message).catch((error: unknown) =>
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
