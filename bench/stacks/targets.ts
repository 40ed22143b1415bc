import { round } from '../lib/stats.ts';
import type { StackRound } from './side-by-side.ts';
import type { StackId } from './stacks.ts';

/** One figure of a stack's round, null where it was not measured. */
export type Metric = (round: StackRound) => number | null;

export const METRICS = {
  pubsub: (r) => r.pubsub?.perSecond ?? null,
  workerCpu: (r) => r.pubsub?.cpuMicrosPerMessage.worker ?? null,
  brokerCpu: (r) => r.pubsub?.cpuMicrosPerMessage.broker ?? r.pubsub?.cpuMicrosPerMessage.primary ?? null,
  allCpu: (r) =>
    r.pubsub === null ? null : Object.values(r.pubsub.cpuMicrosPerMessage).reduce((sum, v) => sum + v, 0),
  fanout: (r) => r.fanout?.deliveriesPerSecond ?? null,
  fanoutWorkerCpu: (r) => r.fanout?.cpuMicrosPerDelivery.worker ?? null,
  fanoutBrokerCpu: (r) =>
    r.fanout?.cpuMicrosPerDelivery.broker ?? r.fanout?.cpuMicrosPerDelivery.primary ?? null,
  idleCpu: (r) => r.memory?.idleCpuMicrosPerSocketSecond ?? null,
  connects: (r) => r.connects?.perSecond ?? null,
  connectsNoToken: (r) => r.connectsNoToken?.perSecond ?? null,
  heapPerSocket: (r) => r.memory?.heapPerSocketKB ?? null,
  rssPerSocket: (r) => r.memory?.rssPerSocketKB ?? null,
  heapPerSubscription: (r) => r.memory?.heapPerSubscriptionKB ?? null,
  rssPerSubscription: (r) => r.memory?.rssPerSubscriptionKB ?? null,
} satisfies Record<string, Metric>;
export type MetricName = keyof typeof METRICS;

export function median(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (known.length === 0) return null;
  const mid = Math.floor(known.length / 2);
  return known.length % 2 === 1
    ? (known[mid] as number)
    : ((known[mid - 1] as number) + (known[mid] as number)) / 2;
}

/** The median over rounds of one metric of one stack. */
export function medianOf(rounds: readonly StackRound[], stack: StackId, metric: MetricName): number | null {
  const value = median(rounds.filter((r) => r.stack === stack).map(METRICS[metric]));
  return value === null ? null : round(value, 2);
}

export interface TargetResult {
  readonly name: string;
  /** What is divided by what (or the absolute figure), in words. */
  readonly figure: string;
  readonly target: string;
  /** The ratio (or figure) of each round, in round order. */
  readonly perRound: readonly (number | null)[];
  readonly median: number | null;
  /** null when there is no figure (a stack failed or was not run). */
  readonly met: boolean | null;
  readonly note?: string;
}

interface Ratio {
  readonly name: string;
  readonly top: [StackId, MetricName];
  readonly bottom: [StackId, MetricName];
  /** Met when the median ratio is at least `min` or at most `max`; neither: informational. */
  readonly min?: number;
  readonly max?: number;
}

const RATIOS: readonly Ratio[] = [
  {
    name: '1:1 pub/sub through the cluster',
    top: ['warden-1', 'pubsub'],
    bottom: ['sc-scc', 'pubsub'],
    min: 0.9,
  },
  {
    name: '1:1 pub/sub without the cluster',
    top: ['warden-solo', 'pubsub'],
    bottom: ['sc-pass', 'pubsub'],
    min: 0.9,
  },
  {
    name: 'connects/s with a valid token (warden start)',
    top: ['warden-1', 'connects'],
    bottom: ['sc', 'connectsNoToken'],
    min: 0.9,
  },
  {
    name: 'connects/s with a valid token (worker listening itself)',
    top: ['warden-solo', 'connects'],
    bottom: ['sc', 'connectsNoToken'],
    min: 0.9,
  },
  {
    name: 'heap per idle authenticated socket',
    top: ['warden-solo', 'heapPerSocket'],
    bottom: ['sc', 'heapPerSocket'],
    max: 1.15,
  },
  { name: 'fan-out 1->200 (informational)', top: ['warden-1', 'fanout'], bottom: ['sc-scc', 'fanout'] },
  {
    name: '1:1 pub/sub, 2 workers (informational)',
    top: ['warden-2', 'pubsub'],
    bottom: ['sio-cluster', 'pubsub'],
  },
];

const LABEL: Record<MetricName, string> = {
  pubsub: '1:1 msg/s',
  workerCpu: 'worker µs/msg',
  brokerCpu: 'broker µs/msg',
  allCpu: 'server µs/msg',
  fanout: 'fan-out deliveries/s',
  fanoutWorkerCpu: 'worker µs/delivery',
  fanoutBrokerCpu: 'broker µs/delivery',
  idleCpu: 'idle µs per socket-second',
  connects: 'connects/s',
  connectsNoToken: 'connects/s without a token',
  heapPerSocket: 'heap per socket',
  rssPerSocket: 'RSS per socket',
  heapPerSubscription: 'heap per subscription',
  rssPerSubscription: 'RSS per subscription',
};

/** The round numbers present, in order. */
const roundNumbers = (rounds: readonly StackRound[]) =>
  [...new Set(rounds.map((r) => r.round))].sort((a, b) => a - b);

const valueIn = (rounds: readonly StackRound[], n: number, stack: StackId, metric: MetricName) => {
  const found = rounds.find((r) => r.round === n && r.stack === stack);
  return found === undefined ? null : METRICS[metric](found);
};

/**
 * Every target of the issue against the rounds' figures: each ratio is taken within a round
 * (both stacks ran back to back on the same machine state), then the median over rounds.
 */
export function evaluateTargets(rounds: readonly StackRound[]): TargetResult[] {
  const numbers = roundNumbers(rounds);
  const results: TargetResult[] = RATIOS.map((ratio) => {
    const perRound = numbers.map((n) => {
      const top = valueIn(rounds, n, ...ratio.top);
      const bottom = valueIn(rounds, n, ...ratio.bottom);
      return top === null || bottom === null || bottom === 0 ? null : round(top / bottom, 3);
    });
    const value = median(perRound);
    const met =
      value === null
        ? null
        : ratio.min !== undefined
          ? value >= ratio.min
          : ratio.max !== undefined
            ? value <= ratio.max
            : null;
    return {
      name: ratio.name,
      figure: `${ratio.top[0]} ${LABEL[ratio.top[1]]} / ${ratio.bottom[0]} ${LABEL[ratio.bottom[1]]}`,
      target:
        ratio.min !== undefined ? `>= ${ratio.min}x` : ratio.max !== undefined ? `<= ${ratio.max}x` : '-',
      perRound,
      median: value === null ? null : round(value, 3),
      met,
    };
  });
  // Heap per subscription through the cluster: Warden's worker on the cluster (warden-scc) where it
  // ran; warden start's worker is out of the bench's reach (a grandchild with no IPC), so its RSS
  // growth stands in when no heap figure exists.
  const heapOf = ([stack, metric]: [StackId, MetricName]) =>
    rounds.some((r) => r.stack === stack && METRICS[metric](r) !== null);
  const heapSources: readonly [StackId, MetricName][] = [
    ['warden-scc', 'heapPerSubscription'],
    ['warden-1', 'heapPerSubscription'],
  ];
  const heapSource = heapSources.find(heapOf);
  const [stack, metric] = heapSource ?? ['warden-1', 'rssPerSubscription'];
  const perRound = numbers.map((n) => valueIn(rounds, n, stack, metric));
  const value = median(perRound);
  results.push({
    name: 'per subscription through the cluster',
    figure: `${stack} ${LABEL[metric]}, KB`,
    target: '<= 0.5 KB',
    perRound,
    median: value === null ? null : round(value, 3),
    met: value === null ? null : value <= 0.5,
    ...(heapSource !== undefined
      ? {}
      : { note: 'RSS, not heap: the worker of `warden start` cannot be asked for its heap' }),
  });
  return results;
}
