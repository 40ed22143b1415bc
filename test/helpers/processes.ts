import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { messageOf } from '../../log/pretty.ts';

export const WARDEN_BIN = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));
const ENSURE_BUILD = fileURLToPath(new URL('../../scripts/ensure-deps.js', import.meta.url));
let built = false;

/**
 * `bin/warden.js`, with dist/ brought up to date first (once per test run; a few milliseconds when
 * nothing changed). Spawned roles run the compiled build, as they do in production, while the
 * in-process tests import the sources through tsx: a test never runs a stale build.
 */
export function wardenBin(): string {
  if (!built) {
    execFileSync(process.execPath, [ENSURE_BUILD], { stdio: ['ignore', 'inherit', 'inherit'] });
    built = true;
  }
  return WARDEN_BIN;
}

/** A port that was free a moment ago (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** True when `port` can be bound on loopback right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive ports that were all free a moment ago and not in `avoid`
 * (BROKERS > 1 listens on a run of ports). The tests and the benches share it.
 */
export async function freePortRun(count: number, avoid: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const first = await freePort();
    if (first + count > 65535) continue;
    let free = !avoid.has(first);
    for (let next = first + 1; next < first + count && free; next++)
      free = !avoid.has(next) && (await canBind(next));
    if (free) return first;
  }
  throw new Error(`no run of ${count} free ports found`);
}

/** Several distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * Whether an output line matches: the line itself, or, for a JSON log line, its `msg key=value`
 * form (so a test can wait for `broker joined uri=ws://...` whatever the log format).
 */
export function lineMatches(pattern: RegExp, line: string): boolean {
  return matchedForm(pattern, line) !== null;
}

/** The form of `line` that matches (itself, or its `msg key=value` form), or null. */
function matchedForm(pattern: RegExp, line: string): string | null {
  if (pattern.test(line)) return line;
  const message = messageOf(line);
  return message !== null && pattern.test(message) ? message : null;
}

/** The first line of `text` that matches, in the form that matched. */
function firstMatch(pattern: RegExp, text: string): string | undefined {
  for (const line of text.split('\n')) {
    const form = matchedForm(pattern, line);
    if (form !== null) return form;
  }
  return undefined;
}

/**
 * Output without its JSON log lines (the admin CLI's audit trail goes to stderr): what is left is
 * what the command itself printed for the operator.
 */
export function withoutLogLines(output: string): string {
  return output
    .split(/(?<=\n)/)
    .filter((line) => messageOf(line.trimEnd()) === null)
    .join('');
}

export interface RunningProcess {
  readonly child: ChildProcess;
  output(): string;
  /**
   * Resolves with the first output line matching `pattern` (rejects if the process exits first);
   * a JSON log line matches by its `msg key=value` form too, and then resolves with that form;
   * looking only at output from character offset `since` on (take it from `output().length`).
   */
  waitFor(pattern: RegExp, timeoutMs?: number, since?: number): Promise<string>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns `warden <args>` with `env` layered over this process's environment; `bin` runs another
 * copy of `bin/warden.js` (one outside the repository).
 */
export function runWarden(
  args: string[],
  env: Record<string, string>,
  options: { bin?: string } = {},
): RunningProcess {
  const child = spawn(process.execPath, [options.bin ?? wardenBin(), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const waiters = new Set<{ pattern: RegExp; since: number; resolve: (line: string) => void }>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters) {
      const match = firstMatch(waiter.pattern, output.slice(waiter.since));
      if (match !== undefined) {
        waiters.delete(waiter);
        waiter.resolve(match);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs = 30_000, since = 0) {
      const found = firstMatch(pattern, output.slice(since));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = { pattern, since, resolve: (line: string) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out waiting for ${pattern}; output:\n${output.slice(-3000)}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exit.then(({ code, signal }) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`exited (${code ?? signal}) before ${pattern}; output:\n${output.slice(-3000)}`));
        });
      });
    },
    exited: () => exit,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exit;
    },
  };
}

/** Direct children of `pid` with their command lines. */
export function childrenOf(pid: number): Array<{ pid: number; args: string }> {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return [];
  }
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [pidText, ...rest] = line.split(/\s+/);
      return { pid: Number(pidText), args: rest.join(' ') };
    });
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie has exited; it lingers only until its parent (here often a container's pid 1 that
  // never reaps, e.g. for tsx's esbuild helper) collects its status.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
