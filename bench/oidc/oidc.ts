import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../config/index.ts';
import { startWorker, type WardenWorker } from '../../worker/create-worker.ts';
import { CLIENT_ID, startOidcProvider, type TestOidcProvider } from '../../test/helpers/oidc-provider.ts';
import { onInterrupt } from '../lib/cleanup.ts';
import { Forked } from '../lib/forked.ts';
import { recordingLogger } from '../lib/logger.ts';
import { loadAverage } from '../lib/machine.ts';
import { summarize, type Summary } from '../lib/stats.ts';
import { sleep, wallMs, withTimeout } from '../lib/timing.ts';
import type { FromClients, ToClients } from './protocol.ts';
import { runVerifyCost, type VerifyCostResult } from './verify-cost.ts';

const CLIENT_SCRIPT = fileURLToPath(new URL('./client-process.ts', import.meta.url));
const ROLE = 'chat';
const PATTERNS = { publish: ['chat.*', 'user.{username}.>'], subscribe: ['chat.*'], invoke: ['whoami'] };

export interface OidcBenchOptions {
  /** Connections per measurement, and how many are in flight at once. */
  readonly connects: number;
  readonly parallel: number;
  /**
   * Rounds; each measures both kinds of token in turn, so that a load spike hits both alike, the
   * order alternating from round to round so that a trend (other work on the host) does too.
   */
  readonly rounds: number;
  /**
   * Unmeasured connections of each kind first (JIT, the provider's keys fetched and cached): with
   * 200, the first measured rounds were still 1.5-2x slower than the third.
   */
  readonly warmupConnects: number;
  /** Back-channel logouts measured, each ending one socket on each of the two workers. */
  readonly logoutSamples: number;
  readonly logoutTimeoutMs: number;
  /** bench/oidc/verify-cost.ts: rounds and seconds per kind of token and round. */
  readonly verifyRounds: number;
  readonly verifySeconds: number;
}

export const OIDC_DEFAULTS: OidcBenchOptions = {
  connects: 2_000,
  parallel: 20,
  rounds: 3,
  warmupConnects: 2_000,
  logoutSamples: 20,
  logoutTimeoutMs: 10_000,
  verifyRounds: 3,
  verifySeconds: 1,
};

export interface ConnectRate {
  /** Connections per second (handshake done, authenticated) of each round, and their median. */
  readonly perSecond: number;
  readonly rounds: readonly number[];
  /** The worker's process CPU per connection in the median round, µs (the client side is another process). */
  readonly workerCpuMicroseconds: number;
}

export interface OidcBenchResult {
  readonly options: OidcBenchOptions;
  readonly wardenToken: ConnectRate;
  readonly idpToken: ConnectRate;
  /** Warden-token connects/s over IdP-token connects/s (medians). */
  readonly ratio: number;
  readonly connectFailures: number;
  readonly firstConnectError: string | null;
  readonly revocationPollIntervalMs: number;
  /** Logout sent (the end-session form posted to the provider) until `warden:authEnded` arrived, ms. */
  readonly logout: {
    readonly onReceivingWorker: Summary | null;
    readonly onOtherWorker: Summary | null;
    /** Logout sent until the provider had delivered its logout token (Warden answered it). */
    readonly delivered: Summary | null;
    /** The error names `warden:authEnded` carried, counted. */
    readonly endedBy: Readonly<Record<string, number>>;
    readonly missed: number;
    readonly firstFailure: string | null;
  };
  readonly verifyCost: VerifyCostResult;
  readonly workerLog: Readonly<Record<string, number>>;
  readonly loadAverage: readonly number[];
}

const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/**
 * What OpenID Connect costs: connections per second with a Warden HS256 token against an RS256
 * access token of a real provider (oidc-provider on loopback) on one worker in this process, the
 * clients in a forked process; then the provider's back-channel logout across two workers
 * sharing one SQLite store, timed until each worker's socket hears `warden:authEnded`; and the
 * bare verification cost (./verify-cost.ts). Loopback only, bounded in count and time.
 */
export async function runOidcBench(
  options: OidcBenchOptions,
  progress: (line: string) => void,
): Promise<OidcBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-oidc-'));
  const forgetDir = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  const log = recordingLogger();
  const workers: WardenWorker[] = [];
  let idp: TestOidcProvider | null = null;
  const clients = new Forked<ToClients, FromClients>(CLIENT_SCRIPT);
  const forgetClients = onInterrupt(() => clients.kill());
  try {
    idp = await startOidcProvider({ accessTokenTtl: 3600 });
    const provider = idp;
    const secrets = { authKey: randomBytes(32).toString('hex'), sccAuthKey: randomBytes(32).toString('hex') };
    const databaseUrl = `sqlite:${join(dir, 'bench.db')}`;
    const config = parseConfig(
      {
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: databaseUrl,
        PASSWORD_HASH_COST: '14',
        LOG_LEVEL: 'error',
        OIDC_ISSUER: provider.issuer,
        OIDC_AUDIENCE: CLIENT_ID,
      },
      secrets,
    );
    const a = await startWorker({ config, log });
    workers.push(a);
    await a.store.createRole({ name: ROLE, ...PATTERNS });
    const user = await a.store.createUser({
      username: 'local-user',
      passwordHash: 'bench:no-password',
      tenant: null,
      roles: [ROLE],
      ...PATTERNS,
    });
    const tokens = {
      warden: a.tokens.issue(user).token,
      idp: await provider.mintAccessToken({ account: 'idp-user', roles: [ROLE] }),
    };

    const measure = async (kind: keyof typeof tokens, count: number) => {
      const cpu = process.cpuUsage();
      clients.send({
        type: 'connects',
        port: a.port,
        token: tokens[kind],
        count,
        parallel: options.parallel,
        timeoutMs: 15_000,
      });
      const done = await clients.next('connected-all', 60_000 + count * 50);
      const used = process.cpuUsage(cpu);
      return { ...done, cpuMicroseconds: (used.user + used.system) / count };
    };
    let connectFailures = 0;
    let firstConnectError: string | null = null;
    const rates = { warden: [] as number[], idp: [] as number[] };
    const cpu = { warden: [] as number[], idp: [] as number[] };
    for (const kind of ['warden', 'idp'] as const) {
      const warm = await measure(kind, options.warmupConnects);
      if (warm.authenticated === 0)
        throw new Error(`no ${kind}-token connection authenticated: ${warm.firstError}`);
    }
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? (['warden', 'idp'] as const) : (['idp', 'warden'] as const);
      for (const kind of order) {
        const run = await measure(kind, options.connects);
        connectFailures += run.failed;
        firstConnectError ??= run.firstError;
        rates[kind].push(Math.round((run.authenticated / run.ms) * 1000));
        cpu[kind].push(run.cpuMicroseconds);
        progress(
          `round ${round}: ${kind} token ${rates[kind].at(-1)} connects/s ` +
            `(${run.failed} failed, worker ${Math.round(run.cpuMicroseconds)} µs CPU each)`,
        );
      }
    }
    const rate = (kind: keyof typeof rates): ConnectRate => {
      const perSecond = median(rates[kind]);
      return {
        perSecond,
        rounds: rates[kind],
        workerCpuMicroseconds: Math.round(cpu[kind][rates[kind].indexOf(perSecond)] ?? Number.NaN),
      };
    };
    const wardenToken = rate('warden');
    const idpToken = rate('idp');

    // Back-channel logout: a second worker on the same store and secrets (port 0 again), no brokers.
    const b = await startWorker({ config, log });
    workers.push(b);
    provider.backchannel.forwardTo(`${a.url}/auth/oidc/backchannel-logout`);
    const onA: number[] = [];
    const onB: number[] = [];
    const delivered: number[] = [];
    const endedBy: Record<string, number> = {};
    let missed = 0;
    let firstFailure: string | null = null;
    for (let sample = 1; sample <= options.logoutSamples; sample++) {
      try {
        const session = await provider.login({ account: `logout-${sample}`, roles: [ROLE] });
        const ids = { a: `a-${sample}`, b: `b-${sample}` };
        for (const [id, worker] of [
          [ids.a, a],
          [ids.b, b],
        ] as const) {
          clients.send({ type: 'hold', id, port: worker.port, token: session.accessToken });
          const heldSocket = await nextFor(clients, 'held', id, 30_000);
          if (!heldSocket.authenticated) throw new Error(`socket ${id}: ${heldSocket.error}`);
        }
        // A random phase against worker b's poll: each sample would otherwise start a fixed time
        // after the previous one's poll tick (it waits for it), and every sample would wait alike.
        await sleep(Math.random() * config.revocationPollInterval);
        const sent = wallMs();
        await withTimeout(session.logout(), options.logoutTimeoutMs, 'the back-channel logout');
        delivered.push(wallMs() - sent);
        const deadline = sent + options.logoutTimeoutMs;
        for (const [id, into] of [
          [ids.a, onA],
          [ids.b, onB],
        ] as const) {
          try {
            const ended = await nextFor(clients, 'ended', id, Math.max(1, deadline - wallMs()));
            into.push(ended.at - sent);
            endedBy[ended.name] = (endedBy[ended.name] ?? 0) + 1;
          } catch (error) {
            missed++;
            firstFailure ??= describe(error);
          }
        }
      } catch (error) {
        missed++;
        firstFailure ??= describe(error);
      }
    }
    const logout = {
      onReceivingWorker: summarize(onA),
      onOtherWorker: summarize(onB),
      delivered: summarize(delivered),
      endedBy,
      missed,
      firstFailure,
    };
    progress(
      `back-channel logout -> authEnded: worker a p50 ${logout.onReceivingWorker?.p50 ?? '-'} ms, ` +
        `worker b p50 ${logout.onOtherWorker?.p50 ?? '-'} ms (poll ${config.revocationPollInterval} ms), ${missed} missed`,
    );

    progress(`verification cost: ${options.verifyRounds} rounds of ${options.verifySeconds} s per token`);
    const verifyCost = await runVerifyCost({ rounds: options.verifyRounds, seconds: options.verifySeconds });
    return {
      options,
      wardenToken,
      idpToken,
      ratio: Math.round((wardenToken.perSecond / idpToken.perSecond) * 100) / 100,
      connectFailures,
      firstConnectError,
      revocationPollIntervalMs: config.revocationPollInterval,
      logout,
      verifyCost,
      workerLog: Object.fromEntries(log.counts),
      loadAverage: loadAverage(),
    };
  } finally {
    await clients.close({ type: 'close' }).catch(() => {});
    forgetClients();
    for (const worker of workers.reverse()) {
      await withTimeout(worker.close(), 60_000, 'worker close').catch((error: unknown) =>
        progress(`worker did not close cleanly: ${describe(error)}`),
      );
    }
    await idp?.close();
    await rm(dir, { recursive: true, force: true });
    forgetDir();
  }
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The next message of `type` about socket `id`, skipping late ones of earlier samples. */
async function nextFor<T extends 'held' | 'ended'>(
  clients: Forked<ToClients, FromClients>,
  type: T,
  id: string,
  timeoutMs: number,
): Promise<Extract<FromClients, { type: T }>> {
  const deadline = wallMs() + timeoutMs;
  for (;;) {
    const message: Extract<FromClients, { type: T }> = await clients.next(
      type,
      Math.max(1, deadline - wallMs()),
    );
    if ((message as { id: string }).id === id) return message;
  }
}
