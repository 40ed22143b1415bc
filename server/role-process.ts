import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log/logger.ts';
import { EXIT_CANNOT_START, type RoleMessage } from './process.ts';

export type RoleSpawner = () => ChildProcess;

export interface RoleProcessOptions {
  /**
   * Called, instead of a restart, when the process exits with EXIT_CANNOT_START before it was
   * ever ready (a port in use, a bad value): restarting would only repeat the failure.
   */
  readonly onCannotStart: (message: string) => void;
}

/** How long a role may take to stop on SIGTERM before it is killed, ms (workers drain first). */
const STOP_GRACE_MS = 30_000;
/** A process that ran this long before crashing restarts without back-off. */
const HEALTHY_UPTIME_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * One supervised role process: started, restarted with exponential back-off when it dies
 * (100 ms, 200 ms, ... up to 30 s; reset after 30 s of uptime), stopped with SIGTERM and, past the
 * grace period, SIGKILL. A role that cannot start at all is not restarted (see onCannotStart);
 * once it has been ready, any later crash is restarted, whatever the reason.
 */
export class RoleProcess {
  private child: ChildProcess | null = null;
  private failures = 0;
  private stopping = false;
  private startedAt = 0;
  private wasReady = false;
  private markReady: () => void = () => {};
  /** Resolves the first time the process reports ready. */
  readonly ready: Promise<void>;
  readonly role: string;
  private readonly spawn: RoleSpawner;
  private readonly log: Logger;
  private readonly options: RoleProcessOptions;

  constructor(role: string, spawn: RoleSpawner, log: Logger, options: RoleProcessOptions) {
    this.role = role;
    this.spawn = spawn;
    this.log = log;
    this.options = options;
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const child = this.spawn();
    this.child = child;
    this.startedAt = Date.now();
    let reason: string | undefined;
    child.on('message', (message: RoleMessage) => {
      if (message?.type === 'ready') {
        this.wasReady = true;
        this.markReady();
      }
      if (message?.type === 'fatal') reason = message.message;
    });
    child.once('exit', (code, signal) => {
      if (this.stopping || child !== this.child) return;
      const cannotStart = code === EXIT_CANNOT_START && !this.wasReady;
      // The 'fatal' message may still be in the IPC pipe: 'disconnect' follows the last message.
      const settled = child.connected ? new Promise((resolve) => child.once('disconnect', resolve)) : null;
      void Promise.resolve(settled).then(() => {
        if (this.stopping) return;
        if (cannotStart) this.options.onCannotStart(reason ?? `${this.role} could not start (exit ${code})`);
        else this.restart(child, code, signal, reason);
      });
    });
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  private restart(
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    reason: string | undefined,
  ): void {
    if (Date.now() - this.startedAt >= HEALTHY_UPTIME_MS) this.failures = 0;
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** this.failures);
    this.failures++;
    this.log.warn(`${this.role} exited; restarting`, {
      child: child.pid,
      code,
      signal,
      inMs: delay,
      ...(reason === undefined ? {} : { reason }),
    });
    setTimeout(() => {
      if (!this.stopping) this.start();
    }, delay);
  }
}
