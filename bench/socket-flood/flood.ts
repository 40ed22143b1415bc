import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../config/index.ts';
import { startWorker, type WardenWorker } from '../../worker/create-worker.ts';
import { onInterrupt } from '../lib/cleanup.ts';
import { recordingLogger } from '../lib/logger.ts';
import { round, summarize, type Summary } from '../lib/stats.ts';
import { withTimeout } from '../lib/timing.ts';
import { Forked } from '../lib/forked.ts';
import type { FloodCounts, FromControl, FromFlood, ToControl, ToFlood } from './protocol.ts';

const FLOOD_SCRIPT = fileURLToPath(new URL('./flood-process.ts', import.meta.url));
const CONTROL_SCRIPT = fileURLToPath(new URL('./control-process.ts', import.meta.url));
const CONTROL_CHANNEL = 'control.rtt';

export interface SocketFloodOptions {
  /** Flooding sockets, all from one address (loopback), each authenticated. */
  readonly sockets: number;
  /** How long they flood; the limiter closes them after 5 s over the limit. */
  readonly floodMs: number;
  /** The control client alone before the flood. */
  readonly baselineMs: number;
  /** Pause between two control round trips. */
  readonly gapMs: number;
  /** Publishes one flooding socket keeps unanswered. */
  readonly window: number;
  /** A control round trip slower than this counts as a timeout. */
  readonly rttTimeoutMs: number;
  /** SOCKET_RATE_LIMIT values to run with; the last is in effect no limit. */
  readonly rateLimits: readonly number[];
}

export const SOCKET_FLOOD_DEFAULTS: SocketFloodOptions = {
  sockets: 4,
  floodMs: 8_000,
  baselineMs: 4_000,
  gapMs: 20,
  window: 1_000,
  rttTimeoutMs: 10_000,
  rateLimits: [200, 1_000_000],
};

export interface FloodRun {
  readonly socketRateLimit: number;
  /** Control round trips (publish to delivery on its own channel), ms. */
  readonly idle: Summary | null;
  readonly duringFlood: Summary | null;
  /** The same, only the first 5 s of the flood (before any 4129 close). */
  readonly firstFiveSeconds: Summary | null;
  readonly timeouts: number;
  readonly flood: FloodCounts;
  /** Share of the flood's wall time the worker's event loop was busy, and its CPU per second. */
  readonly workerLoopBusy: number;
  readonly workerCpuMsPerSecond: number;
  readonly workerLog: Readonly<Record<string, number>>;
}

export interface SocketFloodResult {
  readonly options: SocketFloodOptions;
  readonly runs: readonly FloodRun[];
}

async function floodOnce(
  options: SocketFloodOptions,
  socketRateLimit: number,
  progress: (line: string) => void,
): Promise<FloodRun> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-flood-'));
  const forgetDir = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  const log = recordingLogger();
  let worker: WardenWorker | null = null;
  const flood = new Forked<ToFlood, FromFlood>(FLOOD_SCRIPT);
  const control = new Forked<ToControl, FromControl>(CONTROL_SCRIPT);
  const forgetChildren = onInterrupt(() => {
    flood.kill();
    control.kill();
  });
  try {
    const config = parseConfig(
      {
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
        PASSWORD_HASH_COST: '14',
        LOG_LEVEL: 'error',
        SOCKET_RATE_LIMIT: String(socketRateLimit),
      },
      { authKey: randomBytes(32).toString('hex'), sccAuthKey: randomBytes(32).toString('hex') },
    );
    const live = await startWorker({ config, log });
    worker = live;
    const user = (name: string, patterns: string[]) =>
      live.store.createUser({
        username: name,
        passwordHash: 'bench:no-password',
        tenant: null,
        roles: [],
        publish: patterns,
        subscribe: patterns,
        invoke: [],
      });
    const controlUser = await user('control', ['control.>']);
    const floodUser = await user('flood', ['flood.>']);

    control.send({
      type: 'connect',
      port: live.port,
      token: live.tokens.issue(controlUser).token,
      channel: CONTROL_CHANNEL,
    });
    await control.next('connected', 30_000);
    flood.send({
      type: 'connect',
      port: live.port,
      tokens: Array.from({ length: options.sockets }, () => live.tokens.issue(floodUser).token),
      window: options.window,
    });
    await flood.next('connected', 30_000);

    progress(`SOCKET_RATE_LIMIT=${socketRateLimit}: control alone for ${options.baselineMs} ms`);
    const budget = options.rttTimeoutMs + 30_000;
    control.send({
      type: 'measure',
      durationMs: options.baselineMs,
      gapMs: options.gapMs,
      timeoutMs: options.rttTimeoutMs,
    });
    const idle = await control.next('measured', options.baselineMs + budget);

    progress(
      `SOCKET_RATE_LIMIT=${socketRateLimit}: ${options.sockets} sockets flood for ${options.floodMs} ms`,
    );
    const elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const started = performance.now();
    control.send({
      type: 'measure',
      durationMs: options.floodMs,
      gapMs: options.gapMs,
      timeoutMs: options.rttTimeoutMs,
    });
    flood.send({ type: 'flood', durationMs: options.floodMs });
    const [during, flooded] = await Promise.all([
      control.next('measured', options.floodMs + budget),
      flood.next('flooded', options.floodMs + budget),
    ]);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const workerLoopBusy = round(performance.eventLoopUtilization(elu).utilization);

    const rtts = (samples: ReadonlyArray<readonly [number, number]>, until = Infinity) =>
      summarize(samples.filter(([at]) => at < until).map(([, ms]) => ms));
    const { type: _type, ...counts } = flooded;
    const run: FloodRun = {
      socketRateLimit,
      idle: rtts(idle.samples),
      duringFlood: rtts(during.samples),
      firstFiveSeconds: rtts(during.samples, 5_000),
      timeouts: idle.timeouts + during.timeouts,
      flood: counts,
      workerLoopBusy,
      workerCpuMsPerSecond: Math.round((used.user + used.system) / 1000 / seconds),
      workerLog: Object.fromEntries(log.counts),
    };
    progress(
      `SOCKET_RATE_LIMIT=${socketRateLimit}: control p50 ${run.idle?.p50 ?? '-'} -> ${run.duringFlood?.p50 ?? '-'} ms, ` +
        `p99 ${run.idle?.p99 ?? '-'} -> ${run.duringFlood?.p99 ?? '-'} ms; flood ${counts.sent} sent, ` +
        `${counts.accepted} accepted, ${counts.rateLimited} refused, closes ${JSON.stringify(counts.closes)}`,
    );
    return run;
  } finally {
    await flood.close({ type: 'close' }).catch(() => {});
    await control.close({ type: 'close' }).catch(() => {});
    forgetChildren();
    if (worker !== null) {
      await withTimeout(worker.close(), 60_000, 'worker close').catch((error: unknown) =>
        progress(`worker did not close cleanly: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
    await rm(dir, { recursive: true, force: true });
    forgetDir();
  }
}

/**
 * K authenticated sockets from one address publish as fast as one worker answers them, while a
 * control client on the same worker times publish-to-delivery round trips on its own channel:
 * with SOCKET_RATE_LIMIT as configured, and with the limit in effect off. Loopback only,
 * bounded in sockets and time; the worker runs in this process, each client side in its own.
 */
export async function runSocketFlood(
  options: SocketFloodOptions,
  progress: (line: string) => void,
): Promise<SocketFloodResult> {
  const runs: FloodRun[] = [];
  for (const limit of options.rateLimits) runs.push(await floodOnce(options, limit, progress));
  return { options, runs };
}
