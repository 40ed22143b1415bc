import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { PasswordHasher } from '../../auth/passwords.ts';
import { parseConfig } from '../../config/index.ts';
import { silentLogger } from '../../log/logger.ts';
import { startWorker } from '../../worker/create-worker.ts';
import { loopDelayOf, summarize, type LoopDelay, type Summary } from '../lib/stats.ts';
import { withTimeout } from '../lib/timing.ts';
import type { FloodReport } from './attackers.ts';

const ATTACKERS = fileURLToPath(new URL('./attackers.ts', import.meta.url));

export interface LoginFloodOptions {
  readonly flooders: number;
  readonly perAddress: number;
  readonly durationMs: number;
  readonly realEveryMs: number;
  readonly loopPaceMs: number;
  /** Real logins measured before the flood: the idle login time. */
  readonly idleSamples: number;
  readonly hashCost: number;
}

export const LOGIN_FLOOD_DEFAULTS: LoginFloodOptions = {
  flooders: 20,
  perAddress: 10,
  durationMs: 30_000,
  realEveryMs: 1000,
  loopPaceMs: 200,
  idleSamples: 5,
  hashCost: 17,
};

export interface LoginFloodResult {
  readonly options: LoginFloodOptions;
  readonly idle: Summary | null;
  readonly underFlood: Summary | null;
  readonly realFailures: number;
  readonly realLogins: number;
  /** p99 under the flood over p50 idle: the target is below 3. */
  readonly p99OverIdle: number | null;
  readonly floodAnswers: Record<string, number>;
  readonly eventLoopDelay: LoopDelay;
}

function attack(job: Record<string, unknown>): Promise<FloodReport> {
  const child = fork(ATTACKERS, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { type: string; report?: FloodReport; error?: string }) =>
      message.type === 'done' && message.report ? resolve(message.report) : reject(new Error(message.error)),
    );
    child.once('exit', (code) => reject(new Error(`attacker process exited (${code})`)));
    child.send(job);
  });
}

/**
 * The login flood of the hardening issue: FLOODERS addresses × PER_ADDRESS concurrent wrong
 * logins (200 by default) against one worker at the production hash cost, while a real user
 * logs in every second from another address. Reports the real user's latency against its idle
 * latency, its failures, what the flood was answered, and the worker's event-loop delay.
 */
export async function runLoginFlood(
  options: LoginFloodOptions,
  log: (line: string) => void,
): Promise<LoginFloodResult> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-flood-'));
  const config = parseConfig(
    {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'warden.db')}`,
      PASSWORD_HASH_COST: String(options.hashCost),
      LOG_LEVEL: 'error',
    },
    { authKey: randomBytes(32).toString('hex'), sccAuthKey: randomBytes(32).toString('hex') },
  );
  const worker = await startWorker({ config, log: silentLogger });
  try {
    const password = randomBytes(12).toString('base64url');
    await worker.store.createUser({
      username: 'real-user',
      passwordHash: await new PasswordHasher({ cost: options.hashCost }).hash(password),
      tenant: null,
      roles: [],
      publish: [],
      subscribe: [],
      invoke: [],
    });
    const idle: number[] = [];
    for (let i = 0; i < options.idleSamples; i++) {
      const started = performance.now();
      const response = await fetch(`${worker.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'real-user', password }),
      });
      if (response.status !== 200) throw new Error(`idle login answered ${response.status}`);
      idle.push(performance.now() - started);
    }
    log(`idle login p50 ${summarize(idle)?.p50} ms; flooding for ${options.durationMs} ms`);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const report = await withTimeout(
      attack({ url: worker.url, username: 'real-user', password, ...options }),
      options.durationMs + 120_000,
      'the login flood',
    );
    delay.disable();
    const idleSummary = summarize(idle);
    const underFlood = summarize(report.real.filter((r) => r.status === 200).map((r) => r.ms));
    const result: LoginFloodResult = {
      options,
      idle: idleSummary,
      underFlood,
      realFailures: report.real.filter((r) => r.status !== 200).length,
      realLogins: report.real.length,
      p99OverIdle:
        idleSummary && underFlood ? Math.round((underFlood.p99 / idleSummary.p50) * 100) / 100 : null,
      floodAnswers: report.flood,
      eventLoopDelay: loopDelayOf(delay, 10),
    };
    log(
      `real user: ${result.realLogins} logins, ${result.realFailures} failed, p50 ${underFlood?.p50} ms, p99 ${underFlood?.p99} ms (${result.p99OverIdle}x idle p50); flood answered ${JSON.stringify(report.flood)}`,
    );
    return result;
  } finally {
    await worker.close();
    await rm(dir, { recursive: true, force: true });
  }
}
