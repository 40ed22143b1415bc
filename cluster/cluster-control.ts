import type { Revocation, RevocationList } from '../auth/revocations.ts';
import type { Logger } from '../log/logger.ts';
import type { ClusterEvent, Store } from '../store/types.ts';
import type { ControlBus } from './control-bus.ts';
import type { ControlMessage } from './control-messages.ts';

/** A token revocation recorded by a renewal (value = when it was replaced), not a logout. */
const isReplacement = (revocation: Revocation) => revocation.kind === 'token' && revocation.value !== 0;

/** Replacements are written at most this long after the renewal, ms, in batches of WRITE_BATCH. */
const WRITE_DELAY_MS = 50;
const WRITE_BATCH = 200;

/** How often each worker purges expired revocations, ms. */
export const PURGE_INTERVAL_MS = 60_000;

export interface ClusterControlOptions {
  readonly store: Store;
  readonly revocations: RevocationList;
  readonly bus: ControlBus;
  readonly log: Logger;
  /** Called once per new revocation, whichever path brought it (local, bus, store). */
  readonly onRevoked: (revocation: Revocation) => void;
  /** Called when a user's record changed and their sockets need fresh tokens now. */
  readonly onUserChanged: (userId: string) => void;
  readonly now?: () => number;
}

/**
 * The one place where revocations and user changes enter a worker and leave it for the cluster.
 * A revocation is applied here, written to the store (durable, seen by workers that start later)
 * and sent on the control bus (fast path, ~ms); the store's event feed is the slow, reliable path
 * (one poll interval). Applying is idempotent, so duplicates are harmless.
 *
 * @example
 *   await control.revoke({ kind: 'token', subject: claims.jti, value: 0, expiresAt: claims.exp });
 */
export class ClusterControl {
  private readonly now: () => number;
  private readonly pending: Revocation[] = [];
  private writing: Promise<void> | null = null;
  private batchTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ClusterControlOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Revokes cluster-wide: applied here at once, written to the store (durable, seen by workers
   * that start later) and, unless it is a renewal's replacement, sent on the control bus. If the
   * store is down, the revocation still holds on the live cluster and stays pending until the
   * store answers again, so a logout during an outage is not lost when it comes back.
   */
  async revoke(revocation: Revocation): Promise<void> {
    this.apply(revocation);
    this.pending.push(revocation);
    if (isReplacement(revocation)) {
      // A token replaced by a renewal stays valid for TOKEN_REUSE_GRACE (10 s) anyway: other
      // workers read it from the store's log (one poll, 250 ms), and a wave of renewals costs one
      // multi-row INSERT per batch instead of a write and a broadcast per socket.
      this.scheduleWrite();
      return;
    }
    try {
      await this.flushPending();
    } catch (error) {
      this.options.log.warn('store down: revocation applied on the live cluster, written later', {
        error,
        pending: this.pending.length,
      });
    }
    this.options.bus.publish({ type: 'revoke', revocation });
  }

  /** Revocations applied here but not yet written to the store. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Writes every pending revocation, oldest first; throws if the store is down. */
  async flushPending(): Promise<void> {
    // One writer at a time; loop because revocations may arrive while a write is in flight.
    while (this.pending.length > 0) {
      this.writing ??= this.writePending().finally(() => (this.writing = null));
      await this.writing;
    }
  }

  /** Writes what is pending, then stops the batch timer (worker shutdown). */
  async stop(): Promise<void> {
    if (this.batchTimer !== null) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    await this.flushPending().catch((error: unknown) =>
      this.options.log.warn('revocations left unwritten at shutdown', {
        error,
        pending: this.pending.length,
      }),
    );
  }

  private async writePending(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, WRITE_BATCH);
      await this.options.store.appendEvents(batch);
      this.pending.splice(0, batch.length);
    }
  }

  private scheduleWrite(): void {
    if (this.batchTimer !== null && this.pending.length < WRITE_BATCH) return;
    if (this.batchTimer !== null) clearTimeout(this.batchTimer);
    const delay = this.pending.length >= WRITE_BATCH ? 0 : WRITE_DELAY_MS;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      this.flushPending().catch((error: unknown) =>
        this.options.log.warn('store down: replaced tokens written later', {
          error,
          pending: this.pending.length,
        }),
      );
    }, delay);
    this.batchTimer.unref();
  }

  /**
   * Forgets revocations that cannot matter any more (every token they cover has expired anyway):
   * the store's rows and this worker's memory. Several workers purging at once is harmless.
   * Returns the number of store rows removed.
   */
  async purgeExpired(): Promise<number> {
    const nowSeconds = Math.floor(this.now() / 1000);
    this.options.revocations.purge(nowSeconds);
    return this.options.store.purgeExpiredEvents(nowSeconds);
  }

  /** Handles a message from another worker. */
  handleMessage(message: ControlMessage): void {
    if (message.type === 'revoke') this.apply(message.revocation);
    else this.options.onUserChanged(message.userId);
  }

  /** Handles an event from the store's log. */
  handleEvent(event: ClusterEvent): void {
    const nowSeconds = Math.floor(this.now() / 1000);
    if (event.expiresAt < nowSeconds) return;
    const { kind, subject, value, expiresAt } = event;
    if (kind === 'user-changed') this.options.onUserChanged(subject);
    else this.apply({ kind, subject, value, expiresAt });
  }

  private apply(revocation: Revocation): void {
    const { kind, subject, value, expiresAt } = revocation;
    if (this.options.revocations.add({ kind, subject, value, expiresAt })) this.options.onRevoked(revocation);
  }
}
