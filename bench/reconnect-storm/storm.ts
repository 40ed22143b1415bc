import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onInterrupt } from '../lib/cleanup.ts';
import { Forked } from '../lib/forked.ts';
import { postJson } from '../lib/http.ts';
import {
  connectionsPerProcess,
  freePortRun,
  runWarden,
  wardenCommand,
  type Captured,
} from '../lib/processes.ts';
import { round, summarize, type Summary } from '../lib/stats.ts';
import { sleep, wallMs, waitUntil } from '../lib/timing.ts';
import { clusterLog, stopCluster, type RevocationResult } from '../revocation/propagation.ts';
import type { FromStormClients, ReconnectOptions, ToStormClients } from './protocol.ts';
import { RECONNECT_OPTIONS } from '../../client/src/client.ts';

const CLIENTS_SCRIPT = fileURLToPath(new URL('./clients.ts', import.meta.url));

export interface StormOptions {
  readonly workers: number;
  /** Bulk sockets in all; node:cluster's round robin puts about sockets/workers on each worker. */
  readonly sockets: number;
  /** Processes holding the bulk sockets (one event loop cannot reconnect thousands quickly). */
  readonly clientProcesses: number;
  /** Sockets in the probe process, each sending a round trip every probeIntervalMs. */
  readonly probes: number;
  readonly probeIntervalMs: number;
  readonly rounds: number;
  readonly connectConcurrency: number;
  /** Round trips measured before the kill, ms. */
  readonly baselineMs: number;
  /** Longest wait for every client of the killed worker to be back, ms. */
  readonly backTimeoutMs: number;
  /** The clients' back-off; default: the browser client's (client/src/client.ts). */
  readonly reconnect?: ReconnectOptions;
  /** Extra environment for the cluster. */
  readonly env?: Readonly<Record<string, string>>;
  /** After the storms: times the broker is killed (SIGKILL) and its restart timed. */
  readonly brokerKills: number;
}

export const STORM_DEFAULTS: StormOptions = {
  workers: 2,
  sockets: 3000,
  clientProcesses: 2,
  probes: 100,
  probeIntervalMs: 200,
  rounds: 3,
  connectConcurrency: 25,
  baselineMs: 3000,
  backTimeoutMs: 30_000,
  brokerKills: 3,
};

export interface StormRound {
  /** Sockets on the killed worker when it was killed (from `ss`). */
  readonly onKilledWorker: number | null;
  /** Sockets that lost their connection (the killed worker's clients). */
  readonly closed: number;
  /** Kill -> the last of them connected and authenticated again; null if not all came back. */
  readonly allBackMs: number | null;
  /** Kill -> each one's authenticated reconnect. */
  readonly back: Summary | null;
  readonly failedAttempts: number;
  readonly closeCodes: Readonly<Record<string, number>>;
  /** Round trips (invoke 'whoami') of sockets that kept their connection, before the kill. */
  readonly baseline: Summary | null;
  /** ... from the kill until every client was back. */
  readonly duringStorm: Summary | null;
  /** Round trips that failed (timeout, closed) on sockets that kept their connection. */
  readonly failedRoundTrips: number;
}

export interface BrokerRestart {
  /** SIGKILL of the broker -> the first worker has the restarted broker in its list again. */
  readonly firstWorkerMs: number | null;
  /** ... -> every worker has. */
  readonly everyWorkerMs: number | null;
}

export interface StormResult {
  readonly options: StormOptions;
  readonly reconnect: ReconnectOptions;
  readonly rounds: readonly StormRound[];
  readonly brokerRestarts: readonly BrokerRestart[];
  readonly shutdown: RevocationResult['shutdown'];
  readonly clusterLog: Readonly<Record<string, number>>;
  readonly clusterLogSample: readonly string[];
}

/** The browser client's back-off, imported from the client package so the bench uses what ships. */
export function browserReconnectOptions(): ReconnectOptions {
  return { ...RECONNECT_OPTIONS };
}

const USERNAME = 'bench-storm';

/**
 * `warden start` with WORKERS workers; `sockets` clients (in another process) spread over them,
 * every one reconnecting with the browser client's back-off. Each round kills (SIGKILL) the worker
 * holding the most sockets and measures how soon its clients are back, and what the storm of
 * reconnects does to the round trips of the clients that kept their connection.
 */
export async function runReconnectStorm(
  options: StormOptions,
  progress: (line: string) => void,
): Promise<StormResult> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-storm-'));
  const forgetDir = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePortRun(1);
  const statePort = await freePortRun(1, new Set([port]));
  const brokerPort = await freePortRun(1, new Set([port, statePort]));
  const env: Record<string, string> = {
    ...options.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    WORKERS: String(options.workers),
    BROKERS: '1',
    SCC_STATE_SERVER_PORT: String(statePort),
    SCC_BROKER_SERVER_PORT: String(brokerPort),
    DATABASE_URL: `sqlite:${join(dir, 'cluster.db')}`,
    DATA_DIR: join(dir, 'data'),
    AUTH_KEY: randomBytes(32).toString('hex'),
    SCC_AUTH_KEY: randomBytes(32).toString('hex'),
    PASSWORD_HASH_COST: '14',
    // Every client comes from 127.0.0.1.
    MAX_CONNECTIONS_PER_ADDRESS: String(options.sockets * 2),
    LOG_LEVEL: 'info',
  };
  const password = randomBytes(12).toString('base64url');
  const reconnect = options.reconnect ?? browserReconnectOptions();
  let supervisor: Captured | null = null;
  let shutdown: StormResult['shutdown'] = null;
  let forget = () => {};
  const bulk = Array.from(
    { length: options.clientProcesses },
    () => new Forked<ToStormClients, FromStormClients>(CLIENTS_SCRIPT),
  );
  const prober = new Forked<ToStormClients, FromStormClients>(CLIENTS_SCRIPT);
  const all = [...bulk, prober];
  const forgetClients = onInterrupt(() => all.forEach((clients) => clients.kill()));
  const closeClients = () => Promise.all(all.map((clients) => clients.close({ type: 'close' })));
  try {
    await wardenCommand(['user', 'add', USERNAME, '--password-stdin', '--invoke', 'whoami'], env, {
      stdin: `${password}\n`,
    });
    progress(`starting the cluster: ${options.workers} workers, 1 broker, port ${port}`);
    supervisor = runWarden(['start'], env, { detached: true });
    const running = supervisor;
    forget = onInterrupt(() => running.child.kill('SIGTERM'));
    await supervisor.waitForLine(/Warden is ready/, 120_000);
    const readyWorkers = () => running.output().match(/"role":"worker".*"msg":"ready"/g)?.length ?? 0;

    const login = await postJson(`http://127.0.0.1:${port}/auth/login`, { username: USERNAME, password });
    const token = (login.body as { token?: unknown } | null)?.token;
    if (login.status !== 200 || typeof token !== 'string') throw new Error(`login answered ${login.status}`);

    const rounds: StormRound[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const connect = (clients: (typeof all)[number], sockets: number, probe: boolean) => {
        clients.send({
          type: 'connect',
          port,
          token,
          sockets,
          concurrency: options.connectConcurrency,
          reconnect,
          probe,
          probeIntervalMs: options.probeIntervalMs,
        });
        return clients.next('connected', 180_000);
      };
      const share = Math.ceil(options.sockets / bulk.length);
      const connected = await Promise.all([
        ...bulk.map((clients) => connect(clients, share, false)),
        connect(prober, options.probes, true),
      ]);
      for (const result of connected)
        if (result.failed > 0) progress(`${result.failed} sockets failed to connect: ${result.firstError}`);
      const perPid = connectionsPerProcess(port) ?? {};
      const [victim, onVictim] = Object.entries(perPid).sort((a, b) => b[1] - a[1])[0] ?? [];
      if (victim === undefined) throw new Error('no worker connections found with ss');
      progress(`round ${r + 1}: connected; sockets per worker ${JSON.stringify(perPid)}`);
      for (const clients of all) clients.send({ type: 'arm' });
      await Promise.all(all.map((clients) => clients.next('armed', 10_000)));
      // A measurement window (round trips before the kill), not a synchronisation.
      await sleep(options.baselineMs);
      const before = readyWorkers();
      const killedAt = wallMs();
      process.kill(Number(victim), 'SIGKILL');
      const backs = await Promise.all(
        all.map((clients) => clients.next('allBack', options.backTimeoutMs).catch(() => null)),
      );
      const complete = backs.every((back) => back !== null);
      const stormEnd = complete ? Math.max(...backs.map((back) => back?.at ?? 0)) : wallMs();
      // The tail of the storm: the others' round trips settle.
      await sleep(1000);
      for (const clients of all) clients.send({ type: 'report' });
      const reports = await Promise.all(all.map((clients) => clients.next('report', 30_000)));
      const steady = reports.flatMap((report) => report.roundTrips).filter((trip) => !trip.moved);
      const ms = (from: number, to: number) =>
        steady.filter((trip) => !trip.failed && trip.at >= from && trip.at < to).map((trip) => trip.ms);
      const closeCodes: Record<string, number> = {};
      for (const report of reports)
        for (const [code, n] of Object.entries(report.closeCodes))
          closeCodes[code] = (closeCodes[code] ?? 0) + n;
      const backAt = reports.flatMap((report) => report.backAt);
      rounds.push({
        onKilledWorker: onVictim ?? null,
        closed: reports.reduce((sum, report) => sum + report.closed, 0),
        allBackMs: complete ? round(stormEnd - killedAt, 0) : null,
        back: summarize(backAt.map((at) => at - killedAt)),
        failedAttempts: reports.reduce((sum, report) => sum + report.failedAttempts, 0),
        closeCodes,
        baseline: summarize(ms(killedAt - options.baselineMs, killedAt)),
        duringStorm: summarize(ms(killedAt, stormEnd)),
        failedRoundTrips: steady.filter((trip) => trip.failed && trip.at >= killedAt).length,
      });
      const last = rounds[rounds.length - 1] as StormRound;
      progress(
        `round ${r + 1}: ${last.closed} clients of the killed worker back in ${last.allBackMs ?? '(not all)'} ms; ` +
          `others' round trip p50/p99 ${last.baseline?.p50}/${last.baseline?.p99} ms before, ` +
          `${last.duringStorm?.p50}/${last.duringStorm?.p99} ms during`,
      );
      for (const clients of all) clients.send({ type: 'reset' });
      await Promise.all(all.map((clients) => clients.next('reset', 60_000)));
      // The supervisor restarts the killed worker: wait for it before the next round.
      await waitUntil(() => readyWorkers() > before, 60_000, 'the restarted worker', 100);
    }

    await closeClients();

    // A killed broker: the supervisor restarts it, it joins the state server, which announces
    // it to the workers after its scale-out delay.
    const brokerRestarts: BrokerRestart[] = [];
    const rejoined = new RegExp(
      `"role":"worker".*"brokers":\\[[^\\]]*:${brokerPort}"\\],"stalled":\\[\\],"msg":"broker list updated"`,
      'g',
    );
    const rejoins = () => running.output().match(rejoined)?.length ?? 0;
    for (let i = 0; i < options.brokerKills; i++) {
      const [brokerPid] = Object.keys(connectionsPerProcess(brokerPort) ?? {}).filter(
        (pid) => !Object.keys(connectionsPerProcess(port) ?? {}).includes(pid),
      );
      if (brokerPid === undefined) throw new Error('broker process not found with ss');
      const before = rejoins();
      const killedAt = wallMs();
      process.kill(Number(brokerPid), 'SIGKILL');
      let first: number | null = null;
      const every = await waitUntil(
        () => {
          const seen = rejoins() - before;
          if (seen >= 1) first ??= wallMs();
          return seen >= options.workers;
        },
        30_000,
        'the restarted broker in every worker list',
        20,
      ).then(
        () => wallMs(),
        () => null,
      );
      const restart = {
        firstWorkerMs: first === null ? null : round(first - killedAt, 0),
        everyWorkerMs: every === null ? null : round(every - killedAt, 0),
      };
      brokerRestarts.push(restart);
      progress(
        `broker kill ${i + 1}: back in the first worker's list after ${restart.firstWorkerMs} ms, every worker's after ${restart.everyWorkerMs} ms`,
      );
      // Let the workers' sockets to the new broker settle before the next kill.
      await sleep(2000);
    }

    shutdown = await stopCluster(supervisor);
    return { options, reconnect, rounds, brokerRestarts, shutdown, ...clusterLog(supervisor.output()) };
  } finally {
    await closeClients().catch(() => undefined);
    forgetClients();
    if (supervisor !== null && shutdown === null) await stopCluster(supervisor).catch(() => null);
    forget();
    await rm(dir, { recursive: true, force: true });
    forgetDir();
  }
}
