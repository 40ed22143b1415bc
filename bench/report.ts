import type { MachineInfo } from './lib/machine.ts';
import { CONFIG_DEFAULTS } from './lib/config-defaults.ts';
import type { LoopDelay, Summary } from './lib/stats.ts';
import { LEAD_MS, type RenewalStallResult } from './renewal/stall.ts';
import type { StormResult } from './reconnect-storm/storm.ts';
import type { RevocationResult } from './revocation/propagation.ts';
import type { LoginFloodResult } from './login-flood/flood.ts';
import type { SocketFloodResult } from './socket-flood/flood.ts';
import type { OidcBenchResult } from './oidc/oidc.ts';
import type { StacksResult } from './stacks/side-by-side.ts';
import { stacksProblems, stacksTable } from './stacks/report.ts';

/** Everything one `npm run bench` produced; written as JSON next to the markdown summary. */
export interface BenchReport {
  readonly machine: MachineInfo;
  readonly gitCommit: string | null;
  readonly runSeconds: number;
  /** Load averages when the run ended: with `machine.loadAverage`, a hint of other work on the host. */
  readonly loadAverageAtEnd: readonly number[];
  readonly renewal: RenewalStallResult | { readonly error: string } | null;
  readonly revocation: RevocationResult | { readonly error: string } | null;
  readonly loginFlood?: LoginFloodResult | { readonly error: string } | null;
  readonly storm: StormResult | { readonly error: string } | null;
  readonly socketFlood?: SocketFloodResult | { readonly error: string } | null;
  readonly oidc?: OidcBenchResult | { readonly error: string } | null;
  readonly stacks?: StacksResult | { readonly error: string } | null;
}

const cell = (value: number | null | undefined): string =>
  value === null || value === undefined || Number.isNaN(value) ? '-' : String(value);

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

const delayRow = (label: string, delay: LoopDelay): string[] => [
  label,
  cell(delay.p50),
  cell(delay.p99),
  cell(delay.max),
  cell(delay.mean),
  cell(delay.samples),
];

const summaryRow = (label: string, summary: Summary | null): string[] =>
  summary === null
    ? [label, '-', '-', '-', '-', '-', '0']
    : [
        label,
        cell(summary.min),
        cell(summary.p50),
        cell(summary.p90),
        cell(summary.p99),
        cell(summary.max),
        cell(summary.count),
      ];

function logLines(title: string, counts: Readonly<Record<string, number>>): string[] {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return [`${title}: none.`];
  return [`${title}:`, '', ...entries.map(([message, count]) => `- ${count} x \`${message}\``)];
}

function loginFloodSection(result: BenchReport['loginFlood']): string[] {
  const lines = ['## 4. Login flood', ''];
  if (result === null || result === undefined) return [...lines, 'Not run.'];
  if ('error' in result) return [...lines, `**Failed:** ${result.error}`];
  const { options } = result;
  return [
    ...lines,
    `${options.flooders} addresses x ${options.perAddress} wrong logins in flight (each loop at most one ` +
      `request per ${options.loopPaceMs} ms, a fresh username each time), for ${options.durationMs / 1000} s, ` +
      `against one worker at PASSWORD_HASH_COST=${options.hashCost}; a real user logs in every ` +
      `${options.realEveryMs} ms from another address.`,
    '',
    ...table(
      ['real user login, ms', 'min', 'p50', 'p90', 'p99', 'max', 'n'],
      [summaryRow('idle (before the flood)', result.idle), summaryRow('under the flood', result.underFlood)],
    ),
    '',
    `Real user: ${result.realFailures} of ${result.realLogins} logins failed; p99 under the flood is ` +
      `${cell(result.p99OverIdle)}x the idle p50 (target: below 3x).`,
    '',
    `Flood answered: ${Object.entries(result.floodAnswers)
      .map(([status, count]) => `${count} x ${status}`)
      .join(', ')}.`,
    '',
    ...table(
      ['worker event-loop delay, ms', 'p50', 'p99', 'max', 'mean', 'samples'],
      [delayRow('during the flood', result.eventLoopDelay)],
    ),
  ];
}

function renewalSection(result: BenchReport['renewal']): string[] {
  const lines = ['## 1. Renewal event-loop stall', ''];
  if (result === null) return [...lines, 'Not run.'];
  if ('error' in result) return [...lines, `**Failed:** ${result.error}`];
  const { options, connect } = result;
  lines.push(
    `One worker in the bench process (${result.store}), ${connect.authenticated} authenticated ` +
      `socketcluster-client sockets held by a forked client process (tokens of ${options.users} users, ` +
      `issued directly); connected in ${Math.round(connect.ms)} ms ` +
      `(${connect.failed} failed${connect.firstError === null ? '' : `, first error: ${connect.firstError}`}). ` +
      `Each wave moves the injected clock past TOKEN_RENEW_INTERVAL and calls \`lifecycle.runDue()\`. ` +
      `Event-loop delay of the worker's process from \`monitorEventLoopDelay\` (resolution ${options.resolutionMs} ms, ` +
      `which is subtracted: the figures are how late its timer fired), in ms; a wave's window starts ${LEAD_MS} ms before \`runDue()\`:`,
    '',
    ...table(
      ['window', 'p50', 'p99', 'max', 'mean', 'samples'],
      [
        delayRow(`baseline (${options.baselineMs / 1000} s, sockets idle)`, result.baseline),
        ...result.waves.flatMap((wave) => [
          delayRow(`wave ${wave.wave}: runDue() to last renewal`, wave.loopDelay),
          delayRow(`wave ${wave.wave}: same + ${options.tailMs / 1000} s after`, wave.withTailLoopDelay),
        ]),
      ],
    ),
    '',
    `Samples are timer ticks, not time: a loop blocked for 60 ms yields one sample of 60 ms however long ` +
      `it was. "loop busy" is eventLoopUtilization over the wave ` +
      `(baseline: ${Math.round(result.baselineUtilization * 100)} %).`,
    '',
    ...table(
      [
        'wave',
        'renewed (clients / server / expected)',
        'runDue() sync ms',
        'first renewal ms',
        'server done ms',
        'wave ms',
        'renewals/s',
        'loop busy',
        'deauth / closed',
      ],
      result.waves.map((wave) => [
        String(wave.wave),
        `${wave.renewedAtClients} / ${wave.renewedAtServer} / ${wave.expected}`,
        cell(wave.runDueMs),
        cell(wave.firstClientMs),
        cell(wave.serverDurationMs),
        cell(wave.durationMs),
        cell(wave.renewalsPerSecond),
        `${Math.round(wave.utilization * 100)} %`,
        `${wave.clientsDeauthenticated} / ${wave.clientsClosed}`,
      ]),
    ),
    '',
    ...renewalTargets(result),
    '',
    ...logLines('Worker warnings/errors', result.workerLog),
  );
  return lines;
}

/** The renewal targets, judged on the worst wave. */
function renewalTargets(result: RenewalStallResult): string[] {
  const { waves, baseline } = result;
  if (waves.length === 0) return [];
  const worst = (pick: (wave: RenewalStallResult['waves'][number]) => number) => Math.max(...waves.map(pick));
  const p99 = worst((wave) => wave.loopDelay.p99);
  const max = worst((wave) => wave.loopDelay.max);
  const longestMs = worst((wave) => wave.durationMs ?? Infinity);
  const interval = CONFIG_DEFAULTS.tokenRenewInterval;
  const jitterWindowS = Math.min(interval / 10, 300);
  const verdict = (met: boolean) => (met ? '**met**' : '**not met**');
  return [
    `Targets, on the worst wave: event-loop delay p99 <= 5 ms ${verdict(p99 <= 5)} (${cell(p99)} ms); ` +
      `max <= 25 ms ${verdict(max <= 25)} (${cell(max)} ms; the idle baseline's own max: ${cell(baseline.max)} ms); ` +
      `every socket renewed within the jitter window (the last tenth of TOKEN_RENEW_INTERVAL, at most 300 s: ` +
      `${jitterWindowS} s with the default ${interval} s) ${verdict(longestMs <= jitterWindowS * 1000)} ` +
      `(longest wave ${cell(longestMs / 1000)} s).`,
  ];
}

function revocationSection(result: BenchReport['revocation']): string[] {
  const lines = ['## 2. Revocation propagation across processes', ''];
  if (result === null) return [...lines, 'Not run.'];
  if ('error' in result) return [...lines, `**Failed:** ${result.error}`];
  const { options, logout, cli, shutdown } = result;
  const header = ['ms', 'min', 'p50', 'p90', 'p99', 'max', 'n'];
  lines.push(
    `\`warden start\` with WORKERS=${options.workers}, BROKERS=${options.brokers}, ${result.store}, ` +
      `REVOCATION_POLL_INTERVAL=${options.revocationPollIntervalMs} ms; ready in ${result.startupMs} ms. ` +
      `Each round: \`POST /auth/login\`, ${options.socketsPerRound} sockets on the token (consecutive connections, ` +
      `node:cluster hands each to the next free worker), then \`POST /auth/logout\` ` +
      `(${options.warmupRounds} unmeasured warm-up rounds first). ` +
      (result.spread === null
        ? ''
        : `First round's sockets per worker pid (from \`ss\`): ${Object.entries(result.spread)
            .map(([pid, n]) => `${pid}: ${n}`)
            .join(', ')}.`),
    '',
    ...table(header, [
      summaryRow('logout sent -> each socket deauthenticated', logout.perSocket),
      summaryRow('logout sent -> last socket of the round', logout.perRoundLast),
      summaryRow('logout sent -> 204 received', logout.response),
    ]),
    '',
    (logout.roundsOnEveryWorker === null
      ? ''
      : `Rounds with sockets on every worker: ${logout.roundsOnEveryWorker}/${options.rounds}. `) +
      `Missed (no deauthenticate within ${options.deauthTimeoutMs} ms): ${logout.missed}; failed rounds: ` +
      `${logout.roundsFailed}${logout.firstFailure === null ? '' : ` (first: ${logout.firstFailure})`}.`,
    '',
    `\`warden user revoke\` (${options.cliRounds} runs, ${options.socketsPerRound} sockets each; the store's event ` +
      `log is the only path):`,
    '',
    ...table(header, [
      summaryRow('command exit -> each socket deauthenticated', cli.fromExit),
      summaryRow('command exit -> last socket of the run', cli.lastFromExit),
      summaryRow('"revoked" line printed -> each socket', cli.fromConfirmation),
      summaryRow('command spawn -> exit', cli.commandMs),
    ]),
    '',
    `Missed: ${cli.missed}; failed runs: ${cli.roundsFailed}` +
      `${cli.firstFailure === null ? '' : ` (first: ${cli.firstFailure})`}.`,
    '',
    shutdown === null
      ? 'Shutdown: not reached.'
      : `Shutdown (SIGTERM to the supervisor): ${shutdown.ms} ms, exit ${shutdown.exitCode ?? shutdown.signal}` +
          `${shutdown.forced ? `, SIGKILL needed for: ${shutdown.lingering.join('; ') || 'the supervisor'}` : ', nothing left behind'}.`,
    '',
    ...logLines('Cluster warnings/errors', result.clusterLog),
  );
  return lines;
}

function stormSection(result: BenchReport['storm']): string[] {
  const lines = ['## 3. Reconnect storm after a worker is killed', ''];
  if (result === null) return [...lines, 'Not run.'];
  if ('error' in result) return [...lines, `**Failed:** ${result.error}`];
  const { options, reconnect } = result;
  const header = ['ms', 'min', 'p50', 'p90', 'p99', 'max', 'n'];
  lines.push(
    `\`warden start\` with WORKERS=${options.workers}, BROKERS=1; ${options.sockets} sockets in ` +
      `${options.clientProcesses} client processes plus ${options.probes} probe sockets in another, each probe ` +
      `invoking \`whoami\` every ${options.probeIntervalMs} ms. Clients reconnect with the browser client's back-off ` +
      `(initialDelay ${reconnect.initialDelay} ms, randomness ${reconnect.randomness} ms, multiplier ` +
      `${reconnect.multiplier}, maxDelay ${reconnect.maxDelay} ms). Each round kills (SIGKILL) the worker holding ` +
      `the most sockets; round trips are those of probe sockets that kept their connection, ` +
      `${options.baselineMs / 1000} s before the kill and from the kill until every client was back.`,
    '',
    ...table(
      [
        'round',
        'on killed worker',
        'closed',
        'all back ms',
        'back p50 ms',
        'round trip p50/p99 before',
        'during storm',
        'failed trips',
        'close codes',
      ],
      result.rounds.map((round, i) => [
        String(i + 1),
        cell(round.onKilledWorker),
        cell(round.closed),
        cell(round.allBackMs),
        cell(round.back?.p50),
        `${cell(round.baseline?.p50)} / ${cell(round.baseline?.p99)}`,
        `${cell(round.duringStorm?.p50)} / ${cell(round.duringStorm?.p99)}`,
        cell(round.failedRoundTrips),
        Object.entries(round.closeCodes)
          .map(([code, n]) => `${code}: ${n}`)
          .join(', '),
      ]),
    ),
    '',
    ...table(header, [
      ...result.rounds.map((round, i) => summaryRow(`round ${i + 1}: kill -> each client back`, round.back)),
      ...result.rounds.map((round, i) =>
        summaryRow(`round ${i + 1}: round trips during the storm`, round.duringStorm),
      ),
    ]),
    '',
    `Broker killed (SIGKILL) ${result.brokerRestarts.length} times; the supervisor restarts it: ` +
      result.brokerRestarts
        .map(
          (restart) =>
            `back in the first worker's list after ${cell(restart.firstWorkerMs)} ms, every worker's after ${cell(restart.everyWorkerMs)} ms`,
        )
        .join('; ') +
      '.',
    '',
    ...logLines('Cluster warnings/errors', result.clusterLog),
  );
  return lines;
}

function socketFloodSection(result: BenchReport['socketFlood']): string[] {
  const lines = ['## 5. Socket flood', ''];
  if (result === null || result === undefined) return [...lines, 'Not run.'];
  if ('error' in result) return [...lines, `**Failed:** ${result.error}`];
  const { options } = result;
  const limit = (n: number) => (n >= 1_000_000 ? `${n} (in effect none)` : String(n));
  lines.push(
    `One worker in the bench process (SQLite); ${options.sockets} authenticated sockets from one address (a forked ` +
      `process, raw SocketCluster frames) publish with a cid as fast as the worker answers, at most ` +
      `${options.window} unanswered each, for ${options.floodMs / 1000} s. A control client (another process) ` +
      `publishes to its own channel and times each delivery, one after another with ${options.gapMs} ms between ` +
      `them: ${options.baselineMs / 1000} s alone, then during the flood. Round trips in ms:`,
    '',
    ...table(
      ['SOCKET_RATE_LIMIT, control', 'min', 'p50', 'p90', 'p99', 'max', 'n'],
      result.runs.flatMap((run) => [
        summaryRow(`${limit(run.socketRateLimit)}: alone`, run.idle),
        summaryRow(`${limit(run.socketRateLimit)}: during the flood`, run.duringFlood),
        summaryRow(`${limit(run.socketRateLimit)}: first 5 s of the flood`, run.firstFiveSeconds),
      ]),
    ),
    '',
    ...table(
      [
        'SOCKET_RATE_LIMIT',
        'flood publishes sent',
        'accepted',
        'refused (RateLimitError)',
        'other errors',
        'unanswered',
        'socket closes',
        '4129 after (ms)',
        'worker loop busy',
        'worker CPU ms/s',
        'control timeouts',
      ],
      result.runs.map((run) => [
        limit(run.socketRateLimit),
        String(run.flood.sent),
        String(run.flood.accepted),
        String(run.flood.rateLimited),
        String(run.flood.otherErrors),
        String(run.flood.unanswered),
        Object.entries(run.flood.closes)
          .map(([code, n]) => `${n} x ${code}`)
          .join(', '),
        run.flood.closedAfterMs.join(', ') || '-',
        `${Math.round(run.workerLoopBusy * 100)} %`,
        String(run.workerCpuMsPerSecond),
        String(run.timeouts),
      ]),
    ),
    '',
    ...logLines(
      'Worker warnings/errors',
      Object.fromEntries(result.runs.flatMap((run) => Object.entries(run.workerLog))),
    ),
  );
  return lines;
}

function oidcSection(result: BenchReport['oidc']): string[] {
  const lines = ['## 6. OpenID Connect', ''];
  if (result === null || result === undefined) return [...lines, 'Not run.'];
  if ('error' in result) return [...lines, `**Failed:** ${result.error}`];
  const { options, logout, verifyCost } = result;
  const rateRow = (label: string, rate: OidcBenchResult['wardenToken']): string[] => [
    label,
    String(rate.perSecond),
    rate.rounds.join(', '),
    String(rate.workerCpuMicroseconds),
  ];
  const verifyRow = (label: string, rate: OidcBenchResult['verifyCost']['wardenHs256Token']): string[] => [
    label,
    String(rate.perSecond),
    String(rate.bestPerSecond),
    String(rate.microsecondsEach),
  ];
  lines.push(
    `One worker in the bench process (SQLite), OIDC_ISSUER a real provider (oidc-provider on loopback, ` +
      `Keycloak-shaped RS256 access tokens), its keys cached (${options.warmupConnects} unmeasured connections ` +
      `of each kind first). A forked client process opens ${options.connects} socketcluster-client connections ` +
      `per measurement, ${options.parallel} at a time, each closed once its handshake is done; ${options.rounds} ` +
      `interleaved rounds (the order alternating), medians; the worker CPU is the bench process's, the provider idle:`,
    '',
    ...table(
      ['token on the handshake', 'connects/s (median)', 'rounds', 'worker CPU µs per connect'],
      [
        rateRow('Warden HS256 token (`worker.tokens.issue`)', result.wardenToken),
        rateRow('IdP RS256 access token', result.idpToken),
      ],
    ),
    '',
    `Warden tokens connect ${result.ratio}x as fast as IdP access tokens; ${result.connectFailures} connections ` +
      `failed${result.firstConnectError === null ? '' : ` (first: ${result.firstConnectError})`}.`,
    '',
    `Back-channel logout across two workers in the bench process sharing the SQLite store, no brokers ` +
      `(REVOCATION_POLL_INTERVAL=${result.revocationPollIntervalMs} ms): per sample, a login at the provider ` +
      `(authorization code flow), a socket on each worker with that session's access token (client process), ` +
      `then, at a random phase of worker b's poll, the provider's RP-initiated logout, which POSTs its logout token to worker a. From the logout being ` +
      `sent until each socket received \`warden:authEnded\` (client-side times on the host's shared clock), ms:`,
    '',
    ...table(
      ['ms', 'min', 'p50', 'p90', 'p99', 'max', 'n'],
      [
        summaryRow('worker a (receives the logout token)', logout.onReceivingWorker),
        summaryRow('worker b (learns from the store)', logout.onOtherWorker),
        summaryRow('provider done delivering (Warden answered)', logout.delivered),
      ],
    ),
    '',
    `\`warden:authEnded\` said: ${Object.entries(logout.endedBy)
      .map(([name, n]) => `${n} x ${name}`)
      .join(', ')}. Missed (none within ${options.logoutTimeoutMs} ms): ${logout.missed}` +
      `${logout.firstFailure === null ? '' : ` (first: ${logout.firstFailure})`}. Without brokers worker b ` +
      `learns of the logout from the store's event log, at its next poll; under \`warden start\` the cluster's ` +
      `control channel carries it to every worker in milliseconds (section 2).`,
    '',
    `Verification alone (bench/oidc/verify-cost.ts: one at a time on one core, key cached, ` +
      `${options.verifyRounds} interleaved rounds of ${options.verifySeconds} s):`,
    '',
    ...table(
      ['token', 'verifications/s (median)', 'best', 'µs each'],
      [
        verifyRow('RS256 access token', verifyCost.rs256AccessToken),
        verifyRow('ES256 access token', verifyCost.es256AccessToken),
        verifyRow('Warden HS256 token', verifyCost.wardenHs256Token),
      ],
    ),
    '',
    `Load average at the end: ${result.loadAverage.join(' ')}.`,
    '',
    ...logLines('Worker warnings/errors', result.workerLog),
  );
  return lines;
}

/** The short markdown summary of a run. */
function stacksSection(result: BenchReport['stacks']): string[] {
  const lines = ['## 7. Side by side: Warden against bare SocketCluster, SCC, Socket.IO and raw ws', ''];
  if (result === null || result === undefined) return [...lines, 'Not run.'];
  if ('error' in result) return [...lines, `**Failed:** ${result.error}`];
  const { options } = result;
  const problems = stacksProblems(result);
  return [
    ...lines,
    `${options.rounds} interleaved round(s) (each stack started fresh in each round, the order rotated), ` +
      `medians; clients in one forked process on loopback. 1:1: ${options.pubsubSockets} sockets each ` +
      `publishing to its own channel, ${options.inFlight} in flight; fan-out: 1 publisher, ` +
      `${options.fanoutSubscribers} subscribers, ${options.inFlight} messages in flight; connects: ` +
      `${options.connectParallel} in parallel, each closed after its handshake; windows of ` +
      `${options.durationMs / 1000} s after ${options.warmupMs / 1000} s of warm-up. Memory: ${options.idleSockets} ` +
      `idle sockets with the stack's token, then ${options.subscriptionsPerSocket} extra channels each; heap after gc ` +
      `from the forked server process (\`-\` for \`warden start\`, whose workers are out of reach), RSS ` +
      `summed over every server process. CPU from /proc utime+stime of each server process during the 1:1 window. ` +
      `Part run time ${result.seconds} s.` +
      (Object.keys(options.wardenEnv).length === 0
        ? ''
        : ` Warden environment: ${Object.entries(options.wardenEnv)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}.`),
    '',
    ...stacksTable(result),
    ...(problems.length === 0 ? [] : ['', ...problems]),
  ];
}

export function renderMarkdown(report: BenchReport): string {
  const { machine } = report;
  const limit = machine.openFileLimit;
  return [
    `# Warden bench, ${machine.date}`,
    '',
    `${machine.cpus} x ${machine.cpuModel}, ${machine.totalMemoryMiB} MiB, ${machine.platform}, Node ${machine.node}, ` +
      `open files ${limit === null ? 'unknown' : `${limit.soft} (hard ${limit.hard})`}` +
      `${report.gitCommit === null ? '' : `, commit ${report.gitCommit.slice(0, 12)}`}. ` +
      `Run time ${report.runSeconds} s; load average ${machine.loadAverage.join(' ')} at the start, ` +
      `${report.loadAverageAtEnd.join(' ')} at the end.`,
    '',
    ...renewalSection(report.renewal),
    '',
    ...revocationSection(report.revocation),
    '',
    ...stormSection(report.storm),
    '',
    ...loginFloodSection(report.loginFlood),
    '',
    ...socketFloodSection(report.socketFlood),
    '',
    ...oidcSection(report.oidc),
    '',
    ...stacksSection(report.stacks),
    '',
  ].join('\n');
}
