import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../lib/timing.ts';
import type { FromClients, ToClients } from './protocol.ts';

const CLIENTS_SCRIPT = fileURLToPath(new URL('./clients.ts', import.meta.url));

type Waiter = {
  readonly type: FromClients['type'];
  readonly resolve: (message: FromClients) => void;
  readonly reject: (error: Error) => void;
};

/**
 * The forked process holding the bench's client sockets (./clients.ts), with typed messaging:
 * `next('connected')` resolves with the next message of that type. A 'fatal' message or the
 * process's exit fails every pending wait.
 */
export class ClientProcess {
  private readonly child: ChildProcess;
  private readonly inbox: FromClients[] = [];
  private readonly waiters = new Set<Waiter>();
  private failure: Error | null = null;
  readonly exited: Promise<void>;

  constructor() {
    this.child = fork(CLIENTS_SCRIPT, [], {
      // tsx for the .ts sources; room for ten thousand sockets' buffers.
      execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: FromClients) => this.receive(message));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.fail(new Error(`client process exited (${code ?? signal})`));
        resolve();
      });
    });
  }

  send(message: ToClients): void {
    if (this.failure !== null) throw this.failure;
    this.child.send(message);
  }

  next<T extends FromClients['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<FromClients, { type: T }>> {
    const queued = this.inbox.findIndex((message) => message.type === type);
    if (queued >= 0) {
      const [message] = this.inbox.splice(queued, 1);
      return Promise.resolve(message as Extract<FromClients, { type: T }>);
    }
    if (this.failure !== null) return Promise.reject(this.failure);
    let waiter: Waiter | undefined;
    const arrived = new Promise<FromClients>((resolve, reject) => {
      waiter = { type, resolve, reject };
      this.waiters.add(waiter);
    });
    return withTimeout(arrived, timeoutMs, `client process message "${type}"`).then(
      (message) => message as Extract<FromClients, { type: T }>,
      (error: unknown) => {
        if (waiter !== undefined) this.waiters.delete(waiter);
        throw error;
      },
    );
  }

  /** Asks the client process to disconnect every socket and exit; kills it if it does not. */
  async close(timeoutMs = 30_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      if (this.failure === null && this.child.connected)
        this.child.send({ type: 'close' } satisfies ToClients);
      await withTimeout(this.exited, timeoutMs, 'client process exit');
    } catch {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private receive(message: FromClients): void {
    if (message.type === 'fatal') {
      this.fail(new Error(`client process failed: ${message.message}`));
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
