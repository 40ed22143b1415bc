import { fork, type ChildProcess } from 'node:child_process';
import { withTimeout } from './timing.ts';

interface Typed {
  readonly type: string;
}

/** Extra node flags (`--expose-gc`), arguments and environment (over this process's) for the child. */
export interface ForkedOptions {
  readonly execArgv?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

type Waiter<From extends Typed> = {
  readonly type: From['type'];
  readonly resolve: (message: From) => void;
  readonly reject: (error: Error) => void;
};

/**
 * A forked TypeScript process (run through tsx) with typed messaging both ways: `next(type)`
 * resolves with the next message of that type. A `{type: 'fatal', message}` message or the
 * process's exit fails every pending wait.
 *
 * @example
 *   const clients = new Forked<ToClients, FromClients>(script);
 *   clients.send({ type: 'connect', ... });
 *   await clients.next('connected', 60_000);
 */
export class Forked<To extends Typed, From extends Typed> {
  private readonly child: ChildProcess;
  private readonly inbox: From[] = [];
  private readonly waiters = new Set<Waiter<From>>();
  private failure: Error | null = null;
  readonly exited: Promise<void>;

  constructor(script: string, options: ForkedOptions = {}) {
    this.child = fork(script, options.args ?? [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=4096', ...(options.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
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
    let waiter: Waiter<From> | undefined;
    const arrived = new Promise<From>((resolve, reject) => {
      waiter = { type, resolve, reject };
      this.waiters.add(waiter);
    });
    return withTimeout(arrived, timeoutMs, `message "${type}" from the forked process`).then(
      (message) => message as Extract<From, { type: T }>,
      (error: unknown) => {
        if (waiter !== undefined) this.waiters.delete(waiter);
        throw error;
      },
    );
  }

  /** Sends `closeMessage` and waits for the exit; kills the process if it does not exit in time. */
  async close(closeMessage: To, timeoutMs = 30_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      if (this.failure === null && this.child.connected) this.child.send(closeMessage);
      await withTimeout(this.exited, timeoutMs, 'forked process exit');
    } catch {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  private receive(message: From): void {
    if (message.type === 'fatal') {
      this.fail(new Error(`forked process failed: ${(message as unknown as { message: string }).message}`));
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
