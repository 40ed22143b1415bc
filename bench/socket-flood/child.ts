import { fork, type ChildProcess } from 'node:child_process';
import { withTimeout } from '../lib/timing.ts';

/**
 * A forked bench process with typed messages both ways: `next('x')` resolves with the next
 * message of type `x`; a `fatal` message or the process's exit fails every pending wait.
 */
export class Child<To extends { type: string }, From extends { type: string }> {
  private readonly child: ChildProcess;
  private readonly inbox: From[] = [];
  private readonly waiters = new Set<{
    type: string;
    resolve: (message: From) => void;
    reject: (error: Error) => void;
  }>();
  private failure: Error | null = null;
  readonly exited: Promise<void>;

  constructor(script: string, args: readonly string[] = []) {
    this.child = fork(script, args, {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: From) => this.receive(message));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.fail(new Error(`${script} exited (${code ?? signal})`));
        resolve();
      });
    });
  }

  send(message: To): void {
    if (this.failure !== null) throw this.failure;
    this.child.send(message);
  }

  next<T extends From['type']>(type: T, timeoutMs: number): Promise<Extract<From, { type: T }>> {
    const queued = this.inbox.findIndex((message) => message.type === type);
    if (queued >= 0) {
      const [message] = this.inbox.splice(queued, 1);
      return Promise.resolve(message as Extract<From, { type: T }>);
    }
    if (this.failure !== null) return Promise.reject(this.failure);
    let waiter: { type: string; resolve: (m: From) => void; reject: (e: Error) => void } | undefined;
    const arrived = new Promise<From>((resolve, reject) => {
      waiter = { type, resolve, reject };
      this.waiters.add(waiter);
    });
    return withTimeout(arrived, timeoutMs, `child message "${type}"`).then(
      (message) => message as Extract<From, { type: T }>,
      (error: unknown) => {
        if (waiter !== undefined) this.waiters.delete(waiter);
        throw error;
      },
    );
  }

  /** Sends `close` and waits for the exit; kills the process if it does not go. */
  async close(message: To, timeoutMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      if (this.failure === null && this.child.connected) this.child.send(message);
      await withTimeout(this.exited, timeoutMs, 'child exit');
    } catch {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  private receive(message: From): void {
    if (message.type === 'fatal') {
      this.fail(new Error(`child failed: ${(message as unknown as { message: string }).message}`));
      return;
    }
    for (const waiter of this.waiters) {
      if (waiter.type !== message.type) continue;
      this.waiters.delete(waiter);
      waiter.resolve(message);
      return;
    }
    this.inbox.push(message);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }
}
