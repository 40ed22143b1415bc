import type { Revocation, RevocationList } from '../auth/revocations.ts';
import type { Logger } from '../log/logger.ts';
import type { ClusterEvent, Store } from '../store/types.ts';
import type { ControlBus } from './control-bus.ts';
import type { ControlMessage } from './control-messages.ts';

/** A token revocation recorded by a renewal (value = when it was replaced), not a logout. */
const isReplacement = (revocation: Revocation) => revocation.kind === 'token' && revocation.value !== 0;

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
 * A revocation is written to the store first (durable, seen by workers that start later), then
 * applied here and sent on the control bus (fast path, ~ms); the store's event feed is the slow,
 * reliable path (one poll interval). Applying is idempotent, so duplicates are harmless.
 *
 * @example
 *   await control.revoke({ kind: 'token', subject: claims.jti, value: 0, expiresAt: claims.exp });
 */
export class ClusterControl {
  private readonly now: () => number;
  private readonly pending: Revocation[] = [];

  constructor(private readonly options: ClusterControlOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Revokes cluster-wide. If the store is down, the revocation still takes effect on the live
   * cluster at once (memory and bus) and is kept here to be written when the store answers again
   * (flushPending), so a logout during an outage is not lost when the store comes back.
   */
  async revoke(revocation: Revocation): Promise<void> {
    try {
      await this.flushPending();
      await this.options.store.appendEvent(revocation);
    } catch (error) {
      this.pending.push(revocation);
      this.options.log.warn('store down: revocation applied on the live cluster, written later', {
        error,
        pending: this.pending.length,
      });
    }
    this.apply(revocation);
    // A token replaced by a renewal stays valid for TOKEN_REUSE_GRACE (10 s) anyway, so other
    // workers learn of it from the store's log (one poll, 250 ms) rather than by a broadcast that
    // every renewal would otherwise send to every worker. Logouts and revocations go out at once.
    if (!isReplacement(revocation)) this.options.bus.publish({ type: 'revoke', revocation });
  }

  /** Revocations made while the store was down, not yet written. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Writes the revocations made while the store was down, oldest first; throws if it still is. */
  async flushPending(): Promise<void> {
    while (this.pending.length > 0) {
      await this.options.store.appendEvent(this.pending[0] as Revocation);
      this.pending.shift();
    }
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
