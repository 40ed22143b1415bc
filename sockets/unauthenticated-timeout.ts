import type { AGServer } from 'socketcluster-server';
import { CloseCodes } from '../errors/close-codes.ts';
import { DeadlineScheduler } from '../lifecycle/deadline-scheduler.ts';
import { claimsOf, isOpen, type WardenSocket } from './socket-facade.ts';

export interface UnauthenticatedTimeoutOptions {
  /**
   * Seconds a socket may stay unauthenticated (UNAUTHENTICATED_TIMEOUT); null turns the timer
   * off, for when unauthenticated sockets are welcome (anonymous access).
   */
  readonly timeout: number | null;
  /** Milliseconds since the epoch; injectable so tests move time instead of waiting. */
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

/**
 * Closes sockets that stay unauthenticated: `timeout` seconds after the handshake of a socket
 * that did not authenticate in it, or after a socket lost its authentication (logout, expiry,
 * revocation), it is closed with UNAUTHENTICATED_TIMEOUT (4131) unless it authenticated
 * meanwhile. Without it, a socket that completed the handshake and never logged in stayed open
 * for good. One DeadlineScheduler for all sockets (one timer per worker, 1 s buckets), so a
 * socket closes between `timeout` and `timeout + 1` s.
 *
 * @example
 *   const unauthenticated = new UnauthenticatedTimeout({ timeout: config.unauthenticatedTimeout, now });
 *   unauthenticated.attach(agServer);
 */
export class UnauthenticatedTimeout {
  private readonly scheduler: DeadlineScheduler<WardenSocket> | null;
  private readonly now: () => number;

  private readonly options: UnauthenticatedTimeoutOptions;

  constructor(options: UnauthenticatedTimeoutOptions) {
    this.options = options;
    const { timeout } = options;
    if (timeout !== null && (!Number.isFinite(timeout) || timeout <= 0)) {
      throw new TypeError('UnauthenticatedTimeout: timeout must be a positive number of seconds, or null');
    }
    this.now = options.now ?? Date.now;
    this.scheduler =
      timeout === null
        ? null
        : new DeadlineScheduler({
            onDue: (socket) => this.due(socket),
            now: this.now,
            ...(options.setTimer === undefined ? {} : { setTimer: options.setTimer }),
            ...(options.clearTimer === undefined ? {} : { clearTimer: options.clearTimer }),
          });
  }

  /** Sockets waiting for their deadline. */
  get pending(): number {
    return this.scheduler?.size ?? 0;
  }

  attach(agServer: AGServer): void {
    const scheduler = this.scheduler;
    if (scheduler === null) return;
    void (async () => {
      for await (const { socket } of agServer.listener('connection')) this.watch(socket);
    })();
    void (async () => {
      for await (const { socket } of agServer.listener('deauthentication')) this.watch(socket);
    })();
    void (async () => {
      for await (const { socket } of agServer.listener('authentication')) scheduler.cancel(socket);
    })();
    void (async () => {
      for await (const { socket } of agServer.listener('closure')) scheduler.cancel(socket);
    })();
  }

  /** Closes every socket whose deadline has passed now (tests with an injected clock). */
  runDue(): void {
    this.scheduler?.runDue();
  }

  stop(): void {
    this.scheduler?.stop();
  }

  private watch(socket: WardenSocket): void {
    // SC also reports deauthentication during a handshake with a bad token: the connection
    // event that follows starts the timer.
    if (this.scheduler === null || !isOpen(socket) || claimsOf(socket) !== null) return;
    if (this.scheduler.has(socket)) return;
    this.scheduler.schedule(socket, this.now() + (this.options.timeout as number) * 1000);
  }

  private due(socket: WardenSocket): void {
    if (!isOpen(socket) || claimsOf(socket) !== null) return;
    void socket.disconnect(CloseCodes.UNAUTHENTICATED_TIMEOUT, 'not authenticated in time');
  }
}
