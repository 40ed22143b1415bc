import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseConfig } from '../../config/index.ts';
import type { User } from '../../store/types.ts';
import { startWorker, type WardenWorker } from '../../worker/create-worker.ts';
import { onInterrupt } from '../lib/cleanup.ts';
import { recordingLogger } from '../lib/logger.ts';
import { loopDelayOf, round, type LoopDelay } from '../lib/stats.ts';
import { sleep, waitUntil, wallMs, withTimeout } from '../lib/timing.ts';
import { startClientProcess, type ClientProcess } from './client-process.ts';
import type { RenewalCounts } from './protocol.ts';

export interface RenewalStallOptions {
  /** Authenticated sockets on the one worker. */
  readonly sockets: number;
  /** Users the sockets' tokens are spread over. */
  readonly users: number;
  /** Handshakes the client process keeps in flight while connecting. */
  readonly concurrency: number;
  /** Renewal waves, each after moving the clock one TOKEN_RENEW_INTERVAL on. */
  readonly waves: number;
  /** How long the idle baseline is measured (covers at least one SC ping round, every 8 s). */
  readonly baselineMs: number;
  /** After a wave completes, the event loop is watched this much longer (deferred work). */
  readonly tailMs: number;
  readonly waveTimeoutMs: number;
  /** monitorEventLoopDelay's sampling resolution (its timer's period), ms. */
  readonly resolutionMs: number;
}

/** The wave's histogram runs this long before runDue(), so that its first ticks are behind it. */
export const LEAD_MS = 5;

export const RENEWAL_DEFAULTS: RenewalStallOptions = {
  sockets: 10_000,
  users: 100,
  concurrency: 200,
  waves: 3,
  baselineMs: 10_000,
  tailMs: 2_000,
  waveTimeoutMs: 180_000,
  resolutionMs: 1,
};

export interface RenewalWave {
  readonly wave: number;
  readonly expected: number;
  /** Renewed tokens the clients received (their 'authenticate' events). */
  readonly renewedAtClients: number;
  /** Tokens the worker reissued (agServer 'authentication' events). */
  readonly renewedAtServer: number;
  readonly complete: boolean;
  /** How long lifecycle.runDue() itself held the event loop. */
  readonly runDueMs: number;
  /** runDue() to the last reissue on the worker. */
  readonly serverDurationMs: number | null;
  /** runDue() to the first and to the last renewed token arriving at a client. */
  readonly firstClientMs: number | null;
  readonly durationMs: number | null;
  readonly renewalsPerSecond: number | null;
  /** Event-loop delay of the worker from LEAD_MS before runDue() until the last client had its token. */
  readonly loopDelay: LoopDelay;
  /** Share of the wave's wall time the worker's event loop was busy (eventLoopUtilization). */
  readonly utilization: number;
  /** The same, and tailMs longer (deferred work: revocation writes, the event feed's catch-up). */
  readonly withTailLoopDelay: LoopDelay;
  readonly clientsDeauthenticated: number;
  readonly clientsClosed: number;
  /** Deadlines the worker holds after the wave (each renewed socket is rescheduled). */
  readonly scheduledAfter: number;
}

export interface RenewalStallResult {
  readonly options: RenewalStallOptions;
  readonly store: string;
  readonly connect: {
    readonly sockets: number;
    readonly authenticated: number;
    readonly failed: number;
    readonly firstError: string | null;
    readonly ms: number;
  };
  readonly scheduledBefore: number;
  readonly baseline: LoopDelay;
  readonly baselineUtilization: number;
  readonly waves: readonly RenewalWave[];
  /** Warnings and errors the worker logged during the bench, by message. */
  readonly workerLog: Readonly<Record<string, number>>;
  readonly workerLogSample: readonly string[];
  readonly heapUsedMiB: number;
}

/**
 * One worker in this process with `sockets` authenticated client sockets (held by a forked
 * client process) whose tokens all come due at once: the worker's event-loop delay while it
 * renews them, against a baseline with the same sockets idle.
 */
export async function runRenewalStall(
  options: RenewalStallOptions,
  progress: (line: string) => void,
): Promise<RenewalStallResult> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-renewal-'));
  const forgetDir = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  let offset = 0;
  const now = () => Date.now() + offset;
  const log = recordingLogger();
  let worker: WardenWorker | null = null;
  let clients: ClientProcess | null = null;
  try {
    const config = parseConfig(
      {
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
        PASSWORD_HASH_COST: '14',
        LOG_LEVEL: 'error',
        // Every socket comes from the one client process on loopback.
        MAX_CONNECTIONS_PER_ADDRESS: String(options.sockets + 100),
      },
      { authKey: randomBytes(32).toString('hex'), sccAuthKey: randomBytes(32).toString('hex') },
    );
    const live = await startWorker({ config, log, now });
    worker = live;
    const users: User[] = [];
    for (let i = 0; i < options.users; i++) {
      users.push(
        await live.store.createUser({
          username: `bench${i}`,
          // Never logged in with: tokens are issued directly.
          passwordHash: 'bench:no-password',
          tenant: null,
          roles: [],
          publish: ['chat.*'],
          subscribe: ['chat.*'],
          invoke: [],
        }),
      );
    }
    const tokens = Array.from(
      { length: options.sockets },
      (_, i) => live.tokens.issue(users[i % users.length] as User).token,
    );

    // Reissues on the worker: SC emits 'authentication' on every setAuthToken.
    let serverCount = 0;
    let serverLastAt: number | null = null;
    void (async () => {
      for await (const _ of live.agServer.listener('authentication')) {
        serverCount++;
        serverLastAt = wallMs();
      }
    })();

    progress(`connecting ${options.sockets} sockets to the worker on port ${live.port}`);
    clients = startClientProcess();
    clients.send({ type: 'connect', port: live.port, tokens, concurrency: options.concurrency });
    const connected = await clients.next('connected', 15 * 60_000);
    progress(
      `connected ${connected.sockets} (${connected.authenticated} authenticated, ${connected.failed} failed) in ${Math.round(connected.ms)} ms`,
    );
    if (connected.authenticated === 0) {
      throw new Error(`no socket authenticated (first error: ${connected.firstError ?? 'none'})`);
    }
    await waitUntil(
      () => live.lifecycle.scheduled >= connected.authenticated,
      30_000,
      `the worker scheduling a renewal for each of the ${connected.authenticated} sockets`,
    );
    const scheduledBefore = live.lifecycle.scheduled;
    // Let the connection storm's garbage and timers settle before measuring.
    await sleep(2_000);

    progress(`baseline: ${options.baselineMs} ms with ${connected.authenticated} idle sockets`);
    const baselineHistogram = monitorEventLoopDelay({ resolution: options.resolutionMs });
    baselineHistogram.enable();
    const baselineElu = performance.eventLoopUtilization();
    await sleep(options.baselineMs);
    baselineHistogram.disable();
    const baselineUtilization = round(performance.eventLoopUtilization(baselineElu).utilization);
    const baseline = loopDelayOf(baselineHistogram, options.resolutionMs);

    const waves: RenewalWave[] = [];
    for (let wave = 1; wave <= options.waves; wave++) {
      const expected = live.lifecycle.scheduled;
      clients.send({ type: 'arm', expected });
      await clients.next('armed', 10_000);
      serverCount = 0;
      serverLastAt = null;

      // Two histograms from the same moment: one stops when the last client has its token, the
      // other runs tailMs longer. (A histogram started later, or reset(), would miss a stall in
      // progress: its first tick only sets its reference point.)
      const histogram = monitorEventLoopDelay({ resolution: options.resolutionMs });
      const withTail = monitorEventLoopDelay({ resolution: options.resolutionMs });
      histogram.enable();
      withTail.enable();
      // Let both tick before the wave: a stall that began at once would go unrecorded
      // (measured: 0 samples during a 100 ms wave without this lead).
      await sleep(LEAD_MS);
      // Past every deadline: renewal time minus at most a tenth of the interval of jitter.
      offset += (config.tokenRenewInterval + 1) * 1000;
      const elu = performance.eventLoopUtilization();
      const start = wallMs();
      live.lifecycle.runDue();
      const runDueMs = wallMs() - start;

      let counts: RenewalCounts & { complete: boolean };
      try {
        counts = await clients.next('renewals', options.waveTimeoutMs);
      } catch (error) {
        clients.send({ type: 'report' });
        counts = await clients.next('renewals', 10_000);
        progress(`wave ${wave} incomplete: ${error instanceof Error ? error.message : String(error)}`);
      }
      histogram.disable();
      const utilization = round(performance.eventLoopUtilization(elu).utilization);
      const loopDelay = loopDelayOf(histogram, options.resolutionMs);

      await sleep(options.tailMs);
      withTail.disable();

      const since = (at: number | null) => (at === null ? null : round(at - start, 1));
      const durationMs = since(counts.lastAt);
      const result: RenewalWave = {
        wave,
        expected,
        renewedAtClients: counts.renewed,
        renewedAtServer: serverCount,
        complete: counts.complete,
        runDueMs: round(runDueMs, 1),
        serverDurationMs: since(serverLastAt),
        firstClientMs: since(counts.firstAt),
        durationMs,
        renewalsPerSecond:
          durationMs === null || durationMs === 0 ? null : Math.round((counts.renewed / durationMs) * 1000),
        loopDelay,
        utilization,
        withTailLoopDelay: loopDelayOf(withTail, options.resolutionMs),
        clientsDeauthenticated: counts.deauthenticated,
        clientsClosed: counts.closed,
        scheduledAfter: live.lifecycle.scheduled,
      };
      waves.push(result);
      progress(
        `wave ${wave}: ${result.renewedAtClients}/${expected} renewed in ${durationMs ?? '-'} ms; ` +
          `loop delay p50 ${loopDelay.p50} p99 ${loopDelay.p99} max ${loopDelay.max} ms`,
      );
      if (!result.complete) break;
    }

    return {
      options,
      store: 'sqlite (file in a temporary directory)',
      connect: connected,
      scheduledBefore,
      baseline,
      baselineUtilization,
      waves,
      workerLog: Object.fromEntries(log.counts),
      workerLogSample: log.first,
      heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    };
  } finally {
    await clients?.close({ type: 'close' }).catch(() => {});
    if (worker !== null) {
      await withTimeout(worker.close(), 60_000, 'worker close').catch((error: unknown) =>
        progress(`worker did not close cleanly: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
    await rm(dir, { recursive: true, force: true });
    forgetDir();
  }
}
