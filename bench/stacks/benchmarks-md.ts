import { CONFIG_DEFAULTS as DEFAULTS } from '../lib/config-defaults.ts';
import type { MachineInfo } from '../lib/machine.ts';
import { stacksProblems, stacksTable } from './report.ts';
import type { StacksResult } from './side-by-side.ts';
import type { StackId } from './stacks.ts';
import { medianOf, type MetricName } from './targets.ts';

/** The lead's part of BENCHMARKS.md: kept as it is when the file is rewritten from a new run. */
export const DECISIONS_START = '<!-- decisions:start (kept across bench runs) -->';
export const DECISIONS_END = '<!-- decisions:end -->';
const DECISIONS_PLACEHOLDER = [
  '## Decisions',
  '',
  '_To be written: the cluster pub/sub decision (keep SCC as it is, batch, deliver to local',
  'subscribers without the broker round trip, or a broker engine on a messaging system), with the',
  'figures above and its trade-offs: ordering, delivery guarantees, what a user must run._',
].join('\n');

/** Assumptions of the capacity section, stated in it. */
export const CAPACITY = {
  /** A core is planned at this share of its time, leaving room for bursts and GC. */
  utilisation: 0.7,
  /** Memory one worker process is planned to hold in sockets (below Node's default heap limit). */
  socketMemoryPerWorkerGiB: 1.5,
  /** Channels each connection subscribes to besides its own. */
  subscriptionsPerConnection: 5,
  /** Messages each connection receives per second, on average (1:1). */
  messagesPerConnectionSecond: 0.1,
  /** TOKEN_RENEW_INTERVAL's default, seconds. */
  renewInterval: DEFAULTS.tokenRenewInterval,
  /** REVOCATION_POLL_INTERVAL's default, ms. */
  revocationPollMs: DEFAULTS.revocationPollInterval,
  /** Store reads per renewal (the user, then their roles). */
  readsPerRenewal: 2,
} as const;

const fmt = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

function capacity(result: StacksResult): string[] {
  const m = (stack: StackId, metric: MetricName) => medianOf(result.rounds, stack, metric);
  const workerUs = m('warden-1', 'workerCpu');
  const brokerUs = m('warden-1', 'brokerCpu');
  const soloUs = m('warden-solo', 'workerCpu');
  const fanWorkerUs = m('warden-1', 'fanoutWorkerCpu');
  const fanBrokerUs = m('warden-1', 'fanoutBrokerCpu');
  const rssSocket = m('warden-1', 'rssPerSocket');
  const heapSocket = m('warden-solo', 'heapPerSocket');
  const rssSub = m('warden-1', 'rssPerSubscription');
  const idleUs = m('warden-1', 'idleCpu') ?? m('warden-solo', 'idleCpu');
  const connects = m('warden-1', 'connects');
  const soloConnects = m('warden-solo', 'connects');
  if (workerUs === null || brokerUs === null || rssSocket === null || rssSub === null || idleUs === null) {
    return ['Not derived: a Warden stack has no figure in this run (see the failures above).'];
  }
  const c = CAPACITY;
  const perSocketKB = rssSocket + c.subscriptionsPerConnection * Math.max(0, rssSub);
  const perCoreMessages = (1e6 / workerUs) * c.utilisation;
  const perBrokerMessages = (1e6 / brokerUs) * c.utilisation;
  const socketsByMemory = (c.socketMemoryPerWorkerGiB * 2 ** 20) / perSocketKB;
  const socketsByIdleCpu = (1e6 * c.utilisation) / Math.max(0.01, idleUs);
  const lines = [
    `Derived from the medians above (\`warden start\`, 1 worker and 1 broker, unless said otherwise), ` +
      `planning each core at ${c.utilisation * 100} % and each worker process at ` +
      `${c.socketMemoryPerWorkerGiB} GiB of sockets. These are loopback figures on the machine above: real ` +
      `networks add kernel and TLS costs, and a host under other load gives less (see its load average).`,
    '',
    '**One worker, one core:**',
    `- 1:1 messages through the cluster: ${fmt(workerUs, 1)} µs of worker CPU each, so ` +
      `~${fmt(perCoreMessages)} msg/s (without the cluster: ${soloUs === null ? '-' : fmt(soloUs, 1)} µs, ` +
      `~${soloUs === null ? '-' : fmt((1e6 / soloUs) * c.utilisation)} msg/s).` +
      (fanWorkerUs === null ? '' : ` Fan-out deliveries: ${fmt(fanWorkerUs, 2)} µs each.`),
    `- Held connections: ${fmt(rssSocket, 1)} KB of RSS each (heap ${heapSocket === null ? '-' : fmt(heapSocket, 1)} KB on ` +
      `the worker alone), ${fmt(rssSub, 2)} KB per subscription through the cluster; with ` +
      `${c.subscriptionsPerConnection} subscriptions each, ~${fmt(perSocketKB, 1)} KB per connection, so ` +
      `~${fmt(socketsByMemory)} connections per worker by memory. Idle, each costs ${fmt(idleUs, 2)} µs of CPU ` +
      `per second (pings, timers), ~${fmt(socketsByIdleCpu)} per core: memory, not CPU, bounds idle connections.`,
    `- New connections with a valid token: ${connects === null ? '-' : fmt(connects)}/s through node:cluster's ` +
      `primary (the worker listening itself: ${soloConnects === null ? '-' : fmt(soloConnects)}/s), client on the same cores.`,
    '',
    `**One broker, one core:** ${fmt(brokerUs, 1)} µs per 1:1 message, ~${fmt(perBrokerMessages)} msg/s` +
      (fanBrokerUs === null
        ? '.'
        : `; fan-out ${fmt(fanBrokerUs, 2)} µs per delivery (one message to a worker serves all its subscribers).`),
    '',
    `**At scale** (each connection receives ${c.messagesPerConnectionSecond} msg/s on average, 1:1 through the ` +
      `brokers; tokens renewed every ${c.renewInterval} s; the event log polled every ${c.revocationPollMs} ms by each worker):`,
    '',
    '| concurrent authenticated connections | msg/s | workers (cores) | brokers (cores) | memory in sockets | renewals/s (store reads/s) | revocation polls/s |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const connections of [100_000, 1_000_000]) {
    const rate = connections * c.messagesPerConnectionSecond;
    const cpuCores = (connections * idleUs + rate * workerUs) / 1e6 / c.utilisation;
    const workers = Math.ceil(Math.max(cpuCores, connections / socketsByMemory));
    const brokers = Math.max(1, Math.ceil(rate / perBrokerMessages));
    const memoryGiB = (connections * perSocketKB) / 2 ** 20;
    const renewals = connections / c.renewInterval;
    lines.push(
      `| ${fmt(connections)} | ${fmt(rate)} | ${workers} | ${brokers} | ${fmt(memoryGiB, 1)} GiB | ` +
        `${fmt(renewals)} (${fmt(renewals * c.readsPerRenewal)}) | ${fmt((workers * 1000) / c.revocationPollMs)} |`,
    );
  }
  lines.push(
    '',
    'Where it ends:',
    '- **The state server** holds one connection per worker and per broker and does work only when one joins ' +
      'or leaves (it pushes the new lists to every worker); no message or client connection passes through ' +
      'it. It is one process and a single point of failure for membership changes, not for traffic: at ' +
      'hundreds of workers a rolling restart means hundreds of list pushes to hundreds of workers, still ' +
      'small. It becomes the limit only when membership churns constantly (autoscaling in seconds).',
    '- **The brokers** carry every cross-worker message; channels are spread over them by rendezvous hashing, ' +
      'so they scale out until one channel is hotter than one broker core (fan-out of one channel is ' +
      'served by one broker).',
    '- **The store** sees the renewals (reads), the event-log polls (one query per worker per poll ' +
      'interval, whatever the traffic), logins and writes of revocations; connects with a token and ' +
      'publishes do not touch it. At 1,000,000 connections that is ~1,100 reads/s for renewals plus the ' +
      'polls: a single MariaDB primary is enough; sqlite is for one host only. A reconnect storm (a ' +
      'whole region reconnecting) costs connects, not store reads, while the tokens are valid; the ' +
      'renewals due during an outage come in a burst afterwards.',
    '- **Memory** is the first limit of a worker: heap per socket and per subscription have their ' +
      'targets in the table above.',
  );
  return lines;
}

/**
 * BENCHMARKS.md from a full stacks run: the machine, the commit, the side-by-side table with the
 * targets, the capacity derived from its figures, and the lead's Decisions section taken over
 * from `previous` (the file as it was) between its markers.
 */
export function renderBenchmarks(
  result: StacksResult,
  machine: MachineInfo,
  gitCommit: string | null,
  loadAverageAtEnd: readonly number[],
  previous: string | null,
): string {
  const start = previous?.indexOf(DECISIONS_START) ?? -1;
  const end = previous?.indexOf(DECISIONS_END) ?? -1;
  const decisions =
    previous !== null && start >= 0 && end > start
      ? previous.slice(start + DECISIONS_START.length, end).trim()
      : DECISIONS_PLACEHOLDER;
  const problems = stacksProblems(result);
  const limit = machine.openFileLimit;
  return [
    '# Benchmarks',
    '',
    'Warden side by side with what a user would otherwise deploy: a raw `ws` pub/sub server (the floor), ' +
      'bare socketcluster-server, SocketCluster with a pass-through middleware and with its own cluster ' +
      '(scc-broker, scc-broker-client and a state server; scc-state is not on npm, so the state server is ' +
      "Warden's protocol-compatible one, the only Warden code in that stack), Socket.IO v4 with a JWT check " +
      'alone and with `@socket.io/cluster-adapter` on 2 workers, and Warden three ways: its worker without the ' +
      'cluster, `warden start` with 1 worker and 1 broker, and with 2 workers.',
    '',
    'This file is written by `npm run bench -- --only stacks` (a full run: every stack, 3 rounds or more); ' +
      '`--quick` runs one short round and leaves it alone. Figures: medians of interleaved rounds, each stack ' +
      'started fresh in each round; ratios are taken within a round, then the median. Clients run in a ' +
      'separate process on the same machine, over loopback.',
    '',
    '## Machine and commit',
    '',
    `${machine.cpus} x ${machine.cpuModel}, ${machine.totalMemoryMiB} MiB, ${machine.platform}, Node ${machine.node}, ` +
      `open files ${limit === null ? 'unknown' : `${limit.soft}`}; commit ${gitCommit === null ? 'unknown' : gitCommit.slice(0, 12)}; ` +
      `${machine.date}. Load average ${machine.loadAverage.join(' ')} at the start of the run, ${loadAverageAtEnd.join(' ')} at ` +
      `its end (a load above the core count means other work shared the cores: absolute figures are then ` +
      `low, ratios within a round less affected). ${result.options.rounds} rounds, ${result.seconds} s.` +
      (Object.keys(result.options.wardenEnv).length === 0
        ? ''
        : ` Warden environment: ${Object.entries(result.options.wardenEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}.`),
    '',
    ...(Math.max(machine.loadAverage[0] ?? 0, loadAverageAtEnd[0] ?? 0) > machine.cpus
      ? [
          `**This run shared the host:** its 1-minute load average exceeded the ${machine.cpus} cores. Every ` +
            'stack got a varying fraction of them, so the absolute figures are far below what the host gives ' +
            'alone, and a ratio can move from round to round; rerun on a quiet host before deciding on a ' +
            'figure that is close to its target.',
        ]
      : []),
    '',
    '## Side by side',
    '',
    `1:1: ${result.options.pubsubSockets} sockets, each subscribed to its own channel and publishing to it, ` +
      `${result.options.inFlight} in flight. Fan-out: one publisher, ${result.options.fanoutSubscribers} subscribers ` +
      `of one channel. Connects: ${result.options.connectParallel} in parallel, each closed after its handshake. ` +
      `Memory: ${result.options.idleSockets} idle sockets with the stack's token, then ` +
      `${result.options.subscriptionsPerSocket} extra channels each. CPU from /proc (utime + stime) of each server ` +
      'process; heap after gc over IPC where the bench forks the server (`-` for `warden start`, whose workers are ' +
      'node:cluster children of its supervisor); RSS summed over every server process.',
    '',
    ...stacksTable(result),
    ...(problems.length === 0 ? [] : ['', ...problems]),
    '',
    '## Capacity on paper',
    '',
    ...capacity(result),
    '',
    DECISIONS_START,
    decisions,
    DECISIONS_END,
    '',
  ].join('\n');
}
