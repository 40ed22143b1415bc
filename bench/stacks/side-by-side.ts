import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onInterrupt } from '../lib/cleanup.ts';
import { Forked } from '../lib/forked.ts';
import { round } from '../lib/stats.ts';
import { sleep, wallMs } from '../lib/timing.ts';
import type { ClientTarget, FromClients, ToClients } from './protocol.ts';
import { cpuSince, sampleCpu, totalRss } from './proc.ts';
import { STACK_IDS, startStack, type RunningStack, type StackId } from './stacks.ts';
import { evaluateTargets, type TargetResult } from './targets.ts';

export interface StacksOptions {
  readonly stacks: readonly StackId[];
  readonly rounds: number;
  /** Each throughput window (connects, 1:1, fan-out) lasts this long after its warm-up, ms. */
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly connectParallel: number;
  readonly pubsubSockets: number;
  readonly inFlight: number;
  readonly fanoutSubscribers: number;
  /** Idle authenticated sockets held for the memory figures. */
  readonly idleSockets: number;
  /** Extra channels each idle socket then subscribes to (heap per subscription). */
  readonly subscriptionsPerSocket: number;
  /** Environment passed to Warden's stacks only (--warden-env). */
  readonly wardenEnv: Readonly<Record<string, string>>;
  /** --cpu-prof DIR: each server process writes a CPU profile under DIR/round<N>-<stack>/ as it exits. */
  readonly cpuProfileDir: string | null;
}

export const STACKS_DEFAULTS: StacksOptions = {
  stacks: STACK_IDS,
  rounds: 3,
  durationMs: 2_000,
  warmupMs: 500,
  connectParallel: 20,
  pubsubSockets: 100,
  inFlight: 8,
  fanoutSubscribers: 200,
  idleSockets: 2_000,
  subscriptionsPerSocket: 5,
  wardenEnv: {},
  cpuProfileDir: null,
};

/** --quick: one round, shorter windows, fewer idle sockets; the whole part in under two minutes. */
export const STACKS_QUICK: StacksOptions = {
  ...STACKS_DEFAULTS,
  rounds: 1,
  durationMs: 1_000,
  // Trimmed to stay under two minutes for all ten stacks on a 2-core host (1,000 sockets and
  // 300 ms of warm-up took 122 s).
  warmupMs: 200,
  idleSockets: 800,
  subscriptionsPerSocket: 2,
};

export interface StackRound {
  readonly stack: StackId;
  readonly round: number;
  readonly startupMs: number | null;
  readonly processes: readonly { readonly pid: number; readonly role: string }[];
  /** 1:1 messages delivered per second, and server CPU per message by role (µs). */
  readonly pubsub: {
    readonly perSecond: number;
    readonly cpuMicrosPerMessage: Readonly<Record<string, number>>;
    readonly lost: number;
  } | null;
  readonly fanout: {
    readonly deliveriesPerSecond: number;
    /** Server CPU per delivery by role (µs). */
    readonly cpuMicrosPerDelivery: Readonly<Record<string, number>>;
    readonly lost: number;
  } | null;
  /** Connects/s with the stack's token (none for stacks without authentication). */
  readonly connects: { readonly perSecond: number; readonly failed: number } | null;
  /** Bare SC only: connects/s without a token (the connects target's reference). */
  readonly connectsNoToken: { readonly perSecond: number; readonly failed: number } | null;
  readonly memory: {
    readonly sockets: number;
    readonly subscriptions: number;
    /** KB (1024 bytes); heap null where the bench cannot reach the process holding the sockets. */
    readonly heapPerSocketKB: number | null;
    readonly rssPerSocketKB: number;
    readonly heapPerSubscriptionKB: number | null;
    readonly rssPerSubscriptionKB: number;
    readonly baselineRssMiB: number;
    /** Server CPU per idle socket per second (pings), µs; measured on IDLE_CPU_STACKS only. */
    readonly idleCpuMicrosPerSocketSecond: number | null;
  } | null;
  readonly error: string | null;
}

export interface StacksResult {
  readonly options: StacksOptions;
  readonly rounds: readonly StackRound[];
  readonly targets: readonly TargetResult[];
  readonly seconds: number;
}

const CLIENTS = fileURLToPath(new URL('./client-process.ts', import.meta.url));
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000);
const KB = (bytes: number) => round(bytes / 1024, 2);
const perCount = (cpu: Readonly<Record<string, number>>, count: number) =>
  Object.fromEntries(
    Object.entries(cpu).map(([role, micros]) => [role, round(micros / Math.max(1, count), 2)]),
  );

type Clients = Forked<ToClients, FromClients>;

/** The stack counts as idle when its processes used less than this share of one core over a sample. */
const IDLE_SHARE = 0.1;
const IDLE_SAMPLE_MS = 200;

/**
 * Waits until the stack's processes are idle (they may still be closing sockets, collecting
 * garbage or, under `warden start`, warming up), at most `maxMs`: a process's CPU is not an
 * event to await, so it is sampled.
 */
async function quiesce(stack: RunningStack, maxMs = 10_000): Promise<void> {
  const deadline = wallMs() + maxMs;
  let before = sampleCpu(stack.processes);
  while (wallMs() < deadline) {
    await sleep(IDLE_SAMPLE_MS);
    const after = sampleCpu(stack.processes);
    const used = Object.values(cpuSince(stack.processes, before, after)).reduce((sum, v) => sum + v, 0);
    if (used < IDLE_SHARE * IDLE_SAMPLE_MS * 1000) return;
    before = after;
  }
}

/** Stacks whose idle sockets' CPU is measured (for the capacity figures; it costs a window each). */
const IDLE_CPU_STACKS: ReadonlySet<StackId> = new Set(['sc', 'warden-solo', 'warden-1', 'warden-2']);

/** Memory after gc with nothing connected, with idle sockets, and with their extra subscriptions. */
async function memory(
  id: StackId,
  stack: RunningStack,
  clients: Clients,
  target: ClientTarget,
  options: StacksOptions,
): Promise<NonNullable<StackRound['memory']>> {
  const settle = () => quiesce(stack);
  await settle();
  const heap0 = await stack.heap();
  const rss0 = totalRss(stack.processes);
  clients.send({ type: 'hold', target, sockets: options.idleSockets, parallel: options.connectParallel });
  const held = await clients.next('held', 300_000);
  if (held.failed > 0) throw new Error(`${held.failed} idle sockets failed: ${held.firstError}`);
  await settle();
  const heap1 = await stack.heap();
  const rss1 = totalRss(stack.processes);
  let idleCpu: number | null = null;
  if (IDLE_CPU_STACKS.has(id)) {
    const before = sampleCpu(stack.processes);
    const began = wallMs();
    await sleep(options.durationMs);
    const used = Object.values(cpuSince(stack.processes, before, sampleCpu(stack.processes)));
    idleCpu = round(used.reduce((sum, v) => sum + v, 0) / held.sockets / ((wallMs() - began) / 1000), 2);
  }
  clients.send({ type: 'subscribe-held', perSocket: options.subscriptionsPerSocket, parallel: 50 });
  const subscribed = await clients.next('subscribed', 300_000);
  if (subscribed.failed > 0)
    throw new Error(`${subscribed.failed} subscriptions failed: ${subscribed.firstError}`);
  await settle();
  const heap2 = await stack.heap();
  const rss2 = totalRss(stack.processes);
  clients.send({ type: 'release' });
  await clients.next('released', 30_000);
  await quiesce(stack);
  const sockets = held.sockets;
  const subscriptions = subscribed.subscriptions;
  return {
    sockets,
    subscriptions,
    heapPerSocketKB: heap0 === null || heap1 === null ? null : KB((heap1 - heap0) / sockets),
    rssPerSocketKB: KB((rss1 - rss0) / sockets),
    heapPerSubscriptionKB: heap1 === null || heap2 === null ? null : KB((heap2 - heap1) / subscriptions),
    rssPerSubscriptionKB: KB((rss2 - rss1) / subscriptions),
    baselineRssMiB: round(rss0 / 2 ** 20, 1),
    idleCpuMicrosPerSocketSecond: idleCpu,
  };
}

async function connects(
  clients: Clients,
  target: ClientTarget,
  options: StacksOptions,
): Promise<{ perSecond: number; failed: number }> {
  clients.send({
    type: 'connects',
    target,
    parallel: options.connectParallel,
    durationMs: options.durationMs,
  });
  const result = await clients.next('connects', 120_000 + options.durationMs);
  if (result.connects.count === 0 && result.failed > 0)
    throw new Error(`every connect failed: ${result.firstError}`);
  return { perSecond: perSecond(result.connects.count, result.connects.ms), failed: result.failed };
}

/** Runs a windowed scenario (sent as `start`) and samples the stack's CPU at the window's edges. */
async function windowed(
  stack: RunningStack,
  clients: Clients,
  start: ToClients,
  options: StacksOptions,
): Promise<{ count: number; ms: number; lost: number; cpu: Record<string, number> }> {
  clients.send(start);
  const budget = 120_000 + options.warmupMs + options.durationMs;
  await clients.next('window-start', budget);
  const before = sampleCpu(stack.processes);
  const end = await clients.next('window-end', budget);
  const after = sampleCpu(stack.processes);
  return { ...end.window, lost: end.failed, cpu: cpuSince(stack.processes, before, after) };
}

async function roundOf(
  id: StackId,
  roundNumber: number,
  clients: Clients,
  options: StacksOptions,
  progress: (line: string) => void,
): Promise<StackRound> {
  const began = wallMs();
  let stack: RunningStack | null = null;
  const result: {
    -readonly [K in keyof StackRound]: StackRound[K];
  } = {
    stack: id,
    round: roundNumber,
    startupMs: null,
    processes: [],
    pubsub: null,
    fanout: null,
    connects: null,
    connectsNoToken: null,
    memory: null,
    error: null,
  };
  try {
    const profiles =
      options.cpuProfileDir === null ? null : join(options.cpuProfileDir, `round${roundNumber}-${id}`);
    stack = await startStack(id, options.wardenEnv, profiles);
    result.startupMs = round(wallMs() - began, 0);
    result.processes = stack.processes;
    const target: ClientTarget = { protocol: stack.protocol, port: stack.port, token: stack.token };
    result.memory = await memory(id, stack, clients, target, options);
    result.connects = await connects(clients, target, options);
    await quiesce(stack);
    if (id === 'sc') {
      result.connectsNoToken = await connects(clients, { ...target, token: null }, options);
      await quiesce(stack);
    }
    const pubsub = await windowed(
      stack,
      clients,
      {
        type: 'pubsub',
        target,
        sockets: options.pubsubSockets,
        inFlight: options.inFlight,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
      },
      options,
    );
    result.pubsub = {
      perSecond: perSecond(pubsub.count, pubsub.ms),
      cpuMicrosPerMessage: Object.fromEntries(
        Object.entries(pubsub.cpu).map(([role, micros]) => [
          role,
          round(micros / Math.max(1, pubsub.count), 1),
        ]),
      ),
      lost: pubsub.lost,
    };
    await quiesce(stack);
    const fanout = await windowed(
      stack,
      clients,
      {
        type: 'fanout',
        target,
        subscribers: options.fanoutSubscribers,
        inFlight: options.inFlight,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
      },
      options,
    );
    result.fanout = {
      deliveriesPerSecond: perSecond(fanout.count, fanout.ms),
      cpuMicrosPerDelivery: perCount(fanout.cpu, fanout.count),
      lost: fanout.lost,
    };
  } catch (error) {
    result.error = message(error);
  } finally {
    await stack?.stop().catch((error: unknown) => progress(`${id}: stop failed: ${message(error)}`));
  }
  const m = result.memory;
  progress(
    `round ${roundNumber} ${id}: 1:1 ${result.pubsub?.perSecond ?? '-'} msg/s, fan-out ` +
      `${result.fanout?.deliveriesPerSecond ?? '-'}/s, connects ${result.connects?.perSecond ?? '-'}/s, ` +
      `heap/socket ${m?.heapPerSocketKB ?? '-'} KB, rss/socket ${m?.rssPerSocketKB ?? '-'} KB ` +
      `(${round((wallMs() - began) / 1000, 1)} s)${result.error === null ? '' : `; FAILED: ${result.error}`}`,
  );
  return result;
}

/**
 * The side-by-side bench: every stack started fresh in every round, the stacks' order rotated
 * from round to round, clients in one forked process (restarted after a failure), the figures
 * of each round kept so that ratios are taken pair by pair within a round.
 */
export async function runStacksBench(
  options: StacksOptions,
  progress: (line: string) => void,
): Promise<StacksResult> {
  const started = wallMs();
  const rounds: StackRound[] = [];
  let clients: Clients | null = null;
  const forget = onInterrupt(() => clients?.kill());
  try {
    for (let r = 1; r <= options.rounds; r++) {
      const order = options.stacks.map(
        (_, i) => options.stacks[(i + r - 1) % options.stacks.length] as StackId,
      );
      for (const id of order) {
        clients ??= new Forked<ToClients, FromClients>(CLIENTS);
        const result = await roundOf(id, r, clients, options, progress);
        rounds.push(result);
        if (result.error !== null) {
          // The client process may hold half-open sockets or have failed: start a new one.
          clients.kill();
          await clients.exited;
          clients = null;
        }
      }
    }
  } finally {
    await clients?.close({ type: 'close' }).catch(() => {});
    forget();
  }
  return {
    options,
    rounds,
    targets: evaluateTargets(rounds),
    seconds: round((wallMs() - started) / 1000, 1),
  };
}
