/**
 * The client side of the login-flood bench, in its own process so that the flood's CPU is not
 * the worker's: `FLOODERS` addresses (127.0.1.x) each keep `PER_ADDRESS` wrong logins in flight,
 * each for a fresh username (so only the per-address limit can stop them), each on a new
 * connection, while one real user logs in from 127.0.2.1 every `REAL_EVERY_MS` over one kept-alive
 * connection, as a browser would. Reports every real login's latency and status.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

interface Job {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly flooders: number;
  readonly perAddress: number;
  readonly durationMs: number;
  readonly realEveryMs: number;
  /** A flood loop sends at most one request per this many ms (bounds the load a refusal loop makes). */
  readonly loopPaceMs: number;
}

export interface FloodReport {
  readonly real: Array<{ ms: number; status: number }>;
  readonly flood: Record<string, number>;
}

function login(
  url: string,
  from: string,
  username: string,
  password: string,
  agent: Agent | false = false,
): Promise<number> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ username, password });
    const req = request(
      `${url}/auth/login`,
      {
        method: 'POST',
        localAddress: from,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 60_000,
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(0));
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(job: Job): Promise<FloodReport> {
  const deadline = performance.now() + job.durationMs;
  const flood: Record<string, number> = {};
  let n = 0;
  const loop = async (from: string) => {
    while (performance.now() < deadline) {
      const started = performance.now();
      const status = await login(job.url, from, `flood-${n++}`, 'not-the-password');
      flood[status] = (flood[status] ?? 0) + 1;
      const rest = job.loopPaceMs - (performance.now() - started);
      if (rest > 0) await sleep(rest);
    }
  };
  const loops: Promise<void>[] = [];
  for (let a = 1; a <= job.flooders; a++)
    for (let i = 0; i < job.perAddress; i++) loops.push(loop(`127.0.1.${a}`));
  const real: Array<{ ms: number; status: number }> = [];
  // The real user keeps its connection, as a browser does; each flood request opens a new one.
  const browser = new Agent({ keepAlive: true, maxSockets: 1, localAddress: '127.0.2.1' });
  // Let the flood fill the hash queue before the first measured login.
  await sleep(Math.min(2000, job.durationMs / 4));
  while (performance.now() + job.realEveryMs < deadline) {
    const started = performance.now();
    const status = await login(job.url, '127.0.2.1', job.username, job.password, browser);
    real.push({ ms: performance.now() - started, status });
    const rest = job.realEveryMs - (performance.now() - started);
    if (rest > 0) await sleep(rest);
  }
  await Promise.all(loops);
  browser.destroy();
  return { real, flood };
}

process.once('message', (job: Job) => {
  run(job).then(
    (report) => process.send?.({ type: 'done', report }, () => process.exit(0)),
    (error: unknown) => process.send?.({ type: 'fatal', error: String(error) }, () => process.exit(1)),
  );
});
