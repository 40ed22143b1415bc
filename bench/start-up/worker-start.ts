/**
 * Start-up cost of one `warden worker`: the time from spawn to its `ready` message (the one the
 * supervisor waits for: store open, HTTP and WebSocket listening, broker list received) and the
 * resident memory of the idle worker a few seconds later. Three ways to run the same worker:
 *  - compiled: `node bin/warden.js worker`, the build in dist/ (what every role runs now);
 *  - tsx, cold: the sources through tsx's loader, as bin/warden.js did before, with an empty
 *    transpile cache (a new pod: its /tmp was an empty emptyDir);
 *  - tsx, warm: the same with the cache of the previous tsx run (one host, restarts).
 * Modes are interleaved so that a change in the machine's load hits all three alike.
 *
 * Run alone: `node --import tsx bench/start-up/worker-start.ts [--runs N]` (default 7).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePortRun, runWarden, WARDEN_BIN, wardenCommand, type Captured } from '../lib/processes.ts';
import { sleep, wallMs } from '../lib/timing.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** How long the worker idles after `ready` before its RSS is read. */
const IDLE_MS = 3000;

type Mode = 'compiled' | 'tsx, cold' | 'tsx, warm';
const MODES: readonly Mode[] = ['compiled', 'tsx, cold', 'tsx, warm'];

/** The pre-build entry point, verbatim: tsx's loader, then the TypeScript CLI. */
const TSX_ENTRY = `import { register } from 'tsx/esm/api';
register();
const { main } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'server', 'cli.ts')).href)});
const code = await main(['worker']);
if (code !== 0) process.exit(code);`;

interface Sample {
  readonly readyMs: number;
  readonly rssMb: number;
  /** RSS of the worker's child processes (tsx's esbuild service), MB. */
  readonly helpersMb: number;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** Children of any of the process's threads (esbuild's service is started from a worker thread). */
function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    return [];
  }
}

async function startOnce(mode: Mode, env: Record<string, string>, tsxCache: string): Promise<Sample> {
  const port = await freePortRun(1);
  const args = mode === 'compiled' ? [WARDEN_BIN, 'worker'] : ['--input-type=module', '--eval', TSX_ENTRY];
  const cold = mode === 'tsx, cold' ? mkdtempSync(join(tmpdir(), 'warden-tsx-cold-')) : null;
  const started = wallMs();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), TMPDIR: cold ?? tsxCache },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      child.on('message', (message: { type?: string }) => {
        if (message.type === 'ready') resolve(wallMs() - started);
      });
      child.once('exit', (code) =>
        reject(new Error(`${mode} worker exited (${code}) before ready:\n${output}`)),
      );
    });
    await sleep(IDLE_MS);
    const pid = child.pid as number;
    const helpersMb = childPids(pid).reduce((sum, helper) => sum + rssMb(helper), 0);
    return { readyMs, rssMb: rssMb(pid), helpersMb };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    if (cold !== null) rmSync(cold, { recursive: true, force: true });
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
  const runs = Number(values.runs);
  const dir = mkdtempSync(join(tmpdir(), 'warden-start-up-'));
  const tsxCache = join(dir, 'tsx-cache');
  mkdirSync(tsxCache);
  const [statePort, brokerPort] = [await freePortRun(1), await freePortRun(1)];
  const env = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${join(dir, 'warden.db')}`,
    DATA_DIR: dir,
    AUTH_KEY: randomBytes(32).toString('hex'),
    SCC_AUTH_KEY: randomBytes(32).toString('hex'),
    SCC_STATE_SERVER_HOST: '127.0.0.1',
    SCC_STATE_SERVER_PORT: String(statePort),
    SCC_BROKER_SERVER_PORT: String(brokerPort),
    SCC_INSTANCE_IP: '127.0.0.1',
    LOG_LEVEL: 'info',
  };
  const roles: Captured[] = [];
  try {
    await wardenCommand(['migrate'], env);
    const state = runWarden(['state'], env);
    roles.push(state);
    await state.waitForLine(/state server listening/, 30_000);
    const broker = runWarden(['broker'], env);
    roles.push(broker);
    await state.waitForLine(/broker joined/, 30_000);
    // One unmeasured start per mode: the file system cache holds the modules for every mode alike.
    for (const mode of MODES) await startOnce(mode, env, tsxCache);
    const samples = new Map<Mode, Sample[]>(MODES.map((mode) => [mode, []]));
    for (let run = 0; run < runs; run++) {
      for (const mode of MODES) {
        const sample = await startOnce(mode, env, tsxCache);
        samples.get(mode)?.push(sample);
        console.log(
          `run ${run + 1} ${mode}: ready ${sample.readyMs.toFixed(0)} ms, RSS ${sample.rssMb.toFixed(1)} MB` +
            (sample.helpersMb > 0 ? ` (+${sample.helpersMb.toFixed(1)} MB in child processes)` : ''),
        );
      }
    }
    console.log(`\n${runs} runs per mode, interleaved; medians (min-max)\n`);
    console.log('| worker run as | spawn to ready | RSS when idle | child processes |');
    console.log('|---|---|---|---|');
    for (const mode of MODES) {
      const list = samples.get(mode) ?? [];
      const range = (pick: (s: Sample) => number, digits: number) => {
        const values = list.map(pick);
        return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
      };
      console.log(
        `| ${mode} | ${range((s) => s.readyMs, 0)} ms | ${range((s) => s.rssMb, 0)} MB | ${range((s) => s.helpersMb, 0)} MB |`,
      );
    }
  } finally {
    for (const role of roles.reverse()) {
      role.child.kill('SIGTERM');
      await role.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
