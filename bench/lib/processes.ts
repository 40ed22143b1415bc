import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { wallMs } from './timing.ts';

export const WARDEN_BIN = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));
const ENSURE_BUILD = fileURLToPath(new URL('../../scripts/ensure-deps.js', import.meta.url));
let built = false;

/** Brings dist/ up to date once per run: the benches measure the compiled build that production runs. */
function ensureBuilt(): void {
  if (built) return;
  execFileSync(process.execPath, [ENSURE_BUILD], { stdio: ['ignore', 'inherit', 'inherit'] });
  built = true;
}

/** Keep at most this much of a child's output (the supervisor of a long run logs a lot). */
const MAX_OUTPUT = 2 * 2 ** 20;

export { freePortRun } from '../../test/helpers/processes.ts';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** wallMs() when the 'exit' event arrived. */
  readonly at: number;
}

/** A spawned process whose output is captured and can be waited on line by line. */
export class Captured {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  private text = '';
  private dropped = 0;
  private readonly waiters = new Set<{ pattern: RegExp; resolve: (at: number) => void }>();
  private partial = '';

  constructor(command: string, args: readonly string[], options: SpawnOptions) {
    this.child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => this.onData(chunk.toString('utf8'));
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal, at: wallMs() }));
      this.child.once('error', () => resolve({ code: null, signal: null, at: wallMs() }));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The captured output (its beginning is dropped past 2 MiB). */
  output(): string {
    return this.dropped > 0 ? `[${this.dropped} characters dropped]\n${this.text}` : this.text;
  }

  /** Resolves with wallMs() when a complete output line matches `pattern` (lines already seen count). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<number> {
    if (this.text.split('\n').some((line) => pattern.test(line))) return Promise.resolve(wallMs());
    return new Promise((resolve, reject) => {
      const waiter = {
        pattern,
        resolve: (at: number) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      void this.exited.then((exit) => {
        if (!this.waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`exited (${exit.code ?? exit.signal}) before ${pattern}\n${this.tail()}`));
      });
    });
  }

  tail(characters = 3000): string {
    return this.text.slice(-characters);
  }

  private onData(chunk: string): void {
    const at = wallMs();
    this.text += chunk;
    if (this.text.length > MAX_OUTPUT) {
      const cut = this.text.length - MAX_OUTPUT / 2;
      this.dropped += cut;
      this.text = this.text.slice(cut);
    }
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      for (const waiter of this.waiters) {
        if (!waiter.pattern.test(line)) continue;
        this.waiters.delete(waiter);
        waiter.resolve(at);
      }
    }
  }
}

/**
 * Runs `warden <args>` (node bin/warden.js) with `env` over this process's environment and
 * `stdin` written to its standard input.
 */
export function runWarden(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: { stdin?: string; detached?: boolean } = {},
): Captured {
  ensureBuilt();
  const captured = new Captured(process.execPath, [WARDEN_BIN, ...args], {
    env: { ...process.env, ...env },
    detached: options.detached ?? false,
  });
  captured.child.stdin?.on('error', () => {});
  captured.child.stdin?.end(options.stdin ?? '');
  return captured;
}

/** Runs a warden command to completion; throws with its output unless it exits 0. */
export async function wardenCommand(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: { stdin?: string; timeoutMs?: number } = {},
): Promise<{ output: string; exit: Exit }> {
  const run = runWarden(args, env, options);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const exit = await run.exited;
  clearTimeout(timer);
  if (exit.code !== 0) {
    throw new Error(`warden ${args.join(' ')} exited ${exit.code ?? exit.signal}:\n${run.tail()}`);
  }
  return { output: run.output(), exit };
}

/**
 * Live members of the process group `pgid` (one we created with `detached`), from /proc. Zombies
 * do not count: a container's pid 1 may never reap the orphans it inherits.
 */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return members;
}

/** A process's command line from /proc, for reports. */
export function commandLine(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
  } catch {
    return String(pid);
  }
}

/**
 * Established TCP connections on local `port`, counted per owning pid (from `ss`): which worker
 * of a node:cluster group holds which connection. Null when `ss` is unavailable.
 */
export function connectionsPerProcess(port: number): Record<string, number> | null {
  let out: string;
  try {
    out = execFileSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  } catch {
    return null;
  }
  const counts: Record<string, number> = {};
  for (const match of out.matchAll(/pid=(\d+)/g)) {
    const pid = match[1] as string;
    counts[pid] = (counts[pid] ?? 0) + 1;
  }
  return counts;
}
