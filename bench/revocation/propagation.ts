import { randomBytes } from 'node:crypto';
import { CONFIG_DEFAULTS } from '../lib/config-defaults.ts';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AGClientSocket } from 'socketcluster-client';
import { onInterrupt } from '../lib/cleanup.ts';
import { connect } from '../lib/clients.ts';
import { postJson } from '../lib/http.ts';
import {
  commandLine,
  connectionsPerProcess,
  freePortRun,
  groupMembers,
  runWarden,
  wardenCommand,
  type Captured,
} from '../lib/processes.ts';
import { round, summarize, type Summary } from '../lib/stats.ts';
import { sleep, wallMs, withTimeout } from '../lib/timing.ts';

export interface RevocationOptions {
  readonly workers: number;
  readonly brokers: number;
  /** Measured logouts (POST /auth/logout), each with `socketsPerRound` sockets on the token. */
  readonly rounds: number;
  /** Unmeasured logouts first (JIT, first connections to the brokers). */
  readonly warmupRounds: number;
  readonly socketsPerRound: number;
  /** Measured `warden user revoke` runs. */
  readonly cliRounds: number;
  readonly deauthTimeoutMs: number;
  readonly revocationPollIntervalMs: number;
}

export const REVOCATION_DEFAULTS: RevocationOptions = {
  workers: 3,
  brokers: 2,
  rounds: 200,
  warmupRounds: 5,
  socketsPerRound: 6,
  cliRounds: 20,
  deauthTimeoutMs: 5_000,
  // The configuration's default, as deployed.
  revocationPollIntervalMs: CONFIG_DEFAULTS.revocationPollInterval,
};

export interface RevocationResult {
  readonly options: RevocationOptions;
  readonly store: string;
  readonly startupMs: number;
  /**
   * The first round's sockets per worker pid, from `ss` (null if unavailable): evidence that the
   * sockets of a round are spread over every worker.
   */
  readonly spread: Readonly<Record<string, number>> | null;
  readonly logout: {
    /** Measured rounds whose sockets were on every worker (from `ss`; null if unavailable). */
    readonly roundsOnEveryWorker: number | null;
    /** Logout request sent -> each socket's 'deauthenticate', every socket of every round. */
    readonly perSocket: Summary | null;
    /** Logout request sent -> the last socket of the round deauthenticated (cluster-wide). */
    readonly perRoundLast: Summary | null;
    /** Logout request sent -> its 204. */
    readonly response: Summary | null;
    /** Sockets not deauthenticated within deauthTimeoutMs. */
    readonly missed: number;
    readonly roundsFailed: number;
    readonly firstFailure: string | null;
  };
  readonly cli: {
    /** `warden user revoke` exited -> each socket's 'deauthenticate' (negative: before the exit). */
    readonly fromExit: Summary | null;
    /** ... -> the last socket of the run. */
    readonly lastFromExit: Summary | null;
    /** The command's "revoked" line (the store write is done) -> each socket's 'deauthenticate'. */
    readonly fromConfirmation: Summary | null;
    /** The command spawned -> its exit (node start-up, store open, write). */
    readonly commandMs: Summary | null;
    readonly missed: number;
    readonly roundsFailed: number;
    readonly firstFailure: string | null;
  };
  readonly shutdown: {
    readonly ms: number;
    readonly exitCode: number | null;
    readonly signal: string | null;
    /** True if anything of the supervisor's process group had to be SIGKILLed. */
    readonly forced: boolean;
    /** Command lines of processes of the group still alive 5 s after the supervisor exited. */
    readonly lingering: readonly string[];
  } | null;
  /** Warn/error lines the cluster logged, by message (role and pid stripped). */
  readonly clusterLog: Readonly<Record<string, number>>;
  readonly clusterLogSample: readonly string[];
}

const USERNAME = 'bench-revoke';

interface Session {
  readonly token: string;
  readonly sockets: AGClientSocket[];
}

/**
 * The real cluster (`warden start`: state server, brokers, workers sharing one port through
 * node:cluster) on loopback: how long after a logout, or after `warden user revoke`, the sockets
 * on every worker lose their authentication.
 */
export async function runRevocationPropagation(
  options: RevocationOptions,
  progress: (line: string) => void,
): Promise<RevocationResult> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-cluster-'));
  const forgetDir = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePortRun(1);
  const statePort = await freePortRun(1, new Set([port]));
  const brokerPort = await freePortRun(options.brokers, new Set([port, statePort]));
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    WORKERS: String(options.workers),
    BROKERS: String(options.brokers),
    SCC_STATE_SERVER_PORT: String(statePort),
    SCC_BROKER_SERVER_PORT: String(brokerPort),
    DATABASE_URL: `sqlite:${join(dir, 'cluster.db')}`,
    DATA_DIR: join(dir, 'data'),
    AUTH_KEY: randomBytes(32).toString('hex'),
    SCC_AUTH_KEY: randomBytes(32).toString('hex'),
    PASSWORD_HASH_COST: '14',
    LOGIN_RATE_LIMIT: '100000',
    REVOCATION_POLL_INTERVAL: String(options.revocationPollIntervalMs),
    LOG_LEVEL: 'info',
  };
  const base = `http://127.0.0.1:${port}`;
  const password = randomBytes(12).toString('base64url');
  let supervisor: Captured | null = null;
  const open = new Set<AGClientSocket>();

  const login = async (): Promise<string> => {
    const response = await postJson(`${base}/auth/login`, { username: USERNAME, password });
    const token = (response.body as { token?: unknown } | null)?.token;
    if (response.status !== 200 || typeof token !== 'string') {
      throw new Error(`login answered ${response.status} ${JSON.stringify(response.body)}`);
    }
    return token;
  };

  /** Logs in and opens the round's sockets on the token: consecutive connections, so node:cluster's round robin puts some on every worker. */
  const session = async (): Promise<Session> => {
    const token = await login();
    const sockets: AGClientSocket[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: options.socketsPerRound }, () => connect(port, token, 10_000)),
    );
    let problem: string | null = null;
    for (const result of results) {
      if (result.status === 'fulfilled') {
        sockets.push(result.value.socket);
        open.add(result.value.socket);
        if (!result.value.isAuthenticated) problem ??= 'a socket connected unauthenticated';
      } else {
        problem ??= String(result.reason);
      }
    }
    if (problem !== null) {
      close(sockets);
      throw new Error(problem);
    }
    return { token, sockets };
  };

  const close = (sockets: readonly AGClientSocket[]) => {
    for (const socket of sockets) {
      socket.killAllListeners();
      socket.disconnect();
      open.delete(socket);
    }
  };

  /** wallMs() of each socket's next 'deauthenticate', null if it does not come in time. */
  const deauthentications = (sockets: readonly AGClientSocket[]) =>
    sockets.map((socket) =>
      socket
        .listener('deauthenticate')
        .once(options.deauthTimeoutMs)
        .then(
          () => wallMs(),
          () => null,
        ),
    );

  let shutdown: RevocationResult['shutdown'] = null;
  let forget = () => {};
  try {
    progress('creating the user with `warden user add`');
    await wardenCommand(
      ['user', 'add', USERNAME, '--password-stdin', '--publish', 'chat.*', '--subscribe', 'chat.*'],
      env,
      { stdin: `${password}\n` },
    );

    progress(`starting the cluster: ${options.workers} workers, ${options.brokers} brokers, port ${port}`);
    const started = wallMs();
    supervisor = runWarden(['start'], env, { detached: true });
    const running = supervisor;
    forget = onInterrupt(() => running.child.kill('SIGTERM'));
    await supervisor.waitForLine(/Warden is ready/, 120_000);
    const startupMs = round(wallMs() - started, 0);
    progress(`cluster ready in ${startupMs} ms`);

    // POST /auth/logout: the worker that serves it writes the store, applies the revocation and
    // publishes it on the control channel; the other workers learn it from the channel (or, if a
    // message is lost, from the store's event log within one poll interval).
    const perSocket: number[] = [];
    const perRoundLast: number[] = [];
    const response: number[] = [];
    let missed = 0;
    let roundsFailed = 0;
    let firstFailure: string | null = null;
    const total = options.warmupRounds + options.rounds;
    let spread: Record<string, number> | null = null;
    let roundsChecked = 0;
    let roundsOnEveryWorker = 0;
    for (let i = 0; i < total; i++) {
      const measured = i >= options.warmupRounds;
      let sockets: AGClientSocket[] = [];
      try {
        const current = await session();
        sockets = current.sockets;
        // Which workers hold this round's sockets (the previous round's are closed by now).
        const perPid = connectionsPerProcess(port);
        if (i === 0) spread = perPid;
        if (measured && perPid !== null) {
          roundsChecked++;
          if (Object.keys(perPid).length >= options.workers) roundsOnEveryWorker++;
        }
        const deauthenticated = deauthentications(sockets);
        const sent = wallMs();
        const answer = await postJson(`${base}/auth/logout`, undefined, {
          authorization: `Bearer ${current.token}`,
        });
        const answered = wallMs();
        if (answer.status !== 204) throw new Error(`logout answered ${answer.status}`);
        const times = await Promise.all(deauthenticated);
        if (!measured) continue;
        response.push(answered - sent);
        const arrived = times.filter((t): t is number => t !== null).map((t) => t - sent);
        perSocket.push(...arrived);
        missed += times.length - arrived.length;
        if (arrived.length === times.length) perRoundLast.push(Math.max(...arrived));
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        if (measured) {
          roundsFailed++;
          firstFailure ??= text;
        } else {
          progress(`warm-up round ${i + 1} failed: ${text}`);
        }
      } finally {
        close(sockets);
      }
      if (measured && (i - options.warmupRounds + 1) % 50 === 0) {
        progress(`logout rounds: ${i - options.warmupRounds + 1}/${options.rounds}`);
      }
    }

    // `warden user revoke`: a separate process writes the store; the workers see it on their
    // next poll of the event log.
    const fromExit: number[] = [];
    const lastFromExit: number[] = [];
    const fromConfirmation: number[] = [];
    const commandMs: number[] = [];
    let cliMissed = 0;
    let cliFailed = 0;
    let cliFirstFailure: string | null = null;
    let previousExit = 0;
    for (let i = 0; i < options.cliRounds; i++) {
      // The revocation's cut-off is the next second after the command ran; a token issued before
      // it would be refused at once, so log in only after it has passed.
      const cutoff = (Math.floor(previousExit / 1000) + 1) * 1000 + 50;
      if (Date.now() < cutoff) await sleep(cutoff - Date.now());
      let sockets: AGClientSocket[] = [];
      try {
        sockets = (await session()).sockets;
        const deauthenticated = deauthentications(sockets);
        const spawned = wallMs();
        const command = runWarden(['user', 'revoke', USERNAME], env);
        const confirmed = command.waitForLine(/revoked every token/, 30_000).catch(() => null);
        const exit = await withTimeout(command.exited, 30_000, 'warden user revoke').catch(
          (error: unknown) => {
            command.child.kill('SIGKILL');
            throw error;
          },
        );
        previousExit = Date.now();
        if (exit.code !== 0) throw new Error(`warden user revoke exited ${exit.code}: ${command.tail()}`);
        const confirmation = await confirmed;
        const times = await Promise.all(deauthenticated);
        commandMs.push(exit.at - spawned);
        const arrived = times.filter((t): t is number => t !== null);
        fromExit.push(...arrived.map((t) => t - exit.at));
        if (confirmation !== null) fromConfirmation.push(...arrived.map((t) => t - confirmation));
        cliMissed += times.length - arrived.length;
        if (arrived.length === times.length) lastFromExit.push(Math.max(...arrived) - exit.at);
      } catch (error) {
        cliFailed++;
        cliFirstFailure ??= error instanceof Error ? error.message : String(error);
        previousExit = Date.now();
      } finally {
        close(sockets);
      }
    }
    progress(`cli rounds: ${options.cliRounds - cliFailed}/${options.cliRounds}`);

    close([...open]);
    shutdown = await stopCluster(supervisor);
    return {
      options,
      store: 'sqlite (file in a temporary directory)',
      startupMs,
      spread,
      logout: {
        roundsOnEveryWorker: roundsChecked === 0 ? null : roundsOnEveryWorker,
        perSocket: summarize(perSocket),
        perRoundLast: summarize(perRoundLast),
        response: summarize(response),
        missed,
        roundsFailed,
        firstFailure,
      },
      cli: {
        fromExit: summarize(fromExit),
        lastFromExit: summarize(lastFromExit),
        fromConfirmation: summarize(fromConfirmation),
        commandMs: summarize(commandMs),
        missed: cliMissed,
        roundsFailed: cliFailed,
        firstFailure: cliFirstFailure,
      },
      shutdown,
      ...clusterLog(supervisor.output()),
    };
  } finally {
    close([...open]);
    if (supervisor !== null && shutdown === null) await stopCluster(supervisor).catch(() => null);
    forget();
    await rm(dir, { recursive: true, force: true });
    forgetDir();
  }
}

/**
 * SIGTERM to the supervisor (it drains the workers, then stops brokers and the state server) and
 * wait for it; whatever of its process group is still there after that is SIGKILLed.
 */
export async function stopCluster(supervisor: Captured): Promise<NonNullable<RevocationResult['shutdown']>> {
  const pid = supervisor.pid;
  const started = wallMs();
  let forced = false;
  const lingering: string[] = [];
  if (supervisor.running) supervisor.child.kill('SIGTERM');
  try {
    await withTimeout(supervisor.exited, 60_000, 'supervisor exit after SIGTERM');
  } catch {
    forced = true;
  }
  if (pid !== undefined) {
    // Children that outlive the supervisor (they should not) get a moment, then SIGKILL.
    const deadline = Date.now() + 5_000;
    while (groupMembers(pid).length > 0 && Date.now() < deadline) await sleep(100);
    for (const member of groupMembers(pid)) {
      forced = true;
      lingering.push(commandLine(member));
      try {
        process.kill(member, 'SIGKILL');
      } catch {
        // Gone in between.
      }
    }
  }
  const exit = await supervisor.exited;
  return { ms: round(wallMs() - started, 0), exitCode: exit.code, signal: exit.signal, forced, lingering };
}

/** Warn and error lines of the cluster's output, counted by message (role, pid and fields stripped). */
export function clusterLog(output: string): Pick<RevocationResult, 'clusterLog' | 'clusterLogSample'> {
  const counts: Record<string, number> = {};
  const sample: string[] = [];
  for (const line of output.split('\n')) {
    // Warden's JSON log lines (log/logger.ts): warnings and errors, by role and message.
    let parsed: { role?: unknown; level?: unknown; msg?: unknown };
    try {
      parsed = line.startsWith('{') ? (JSON.parse(line) as typeof parsed) : {};
    } catch {
      continue;
    }
    if (parsed.level !== 'warn' && parsed.level !== 'error') continue;
    const key = `${String(parsed.role)} ${parsed.level} ${String(parsed.msg)}`;
    counts[key] = (counts[key] ?? 0) + 1;
    if (sample.length < 20 && counts[key] === 1) sample.push(line.slice(0, 400));
  }
  return { clusterLog: counts, clusterLogSample: sample };
}
