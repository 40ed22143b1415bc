import { metrics } from '../metrics/metrics.ts';
import { randomBytes } from 'node:crypto';
import {
  fromRecord,
  toRecord,
  type Revocation,
  type RevocationList,
  type RevocationRecord,
} from '../auth/revocations.ts';
import type { Logger } from '../log/logger.ts';
import type { ClusterEvent, Store } from '../store/types.ts';
import type { ControlBus } from './control-bus.ts';
import type { ControlMessage } from './control-messages.ts';

/** Replacements are written at most this long after the renewal, ms, in batches of WRITE_BATCH. */
const WRITE_DELAY_MS = 50;
const WRITE_BATCH = 200;

/**
 * How long a revocation waits for its store write before it is sent to the other workers as not
 * yet written, ms. A MariaDB write takes 1-3 ms here; a store that stopped answering would
 * otherwise hold the message back for the whole statement timeout (10 s), and the token would
 * stay valid on the other workers meanwhile.
 */
export const WRITE_WAIT_MS = 250;

/**
 * How long a revocation that is not in the store waits for another worker to confirm that it holds
 * it too, ms. The bus round trip is a few ms; a lone worker (or one cut off from the brokers) gets
 * no confirmation and answers after this wait.
 */
export const PEER_CONFIRM_WAIT_MS = 1000;

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
  /** Called when a role changed or was removed: sockets holding it need fresh tokens now. */
  readonly onRoleChanged?: (role: string) => void;
  readonly now?: () => number;
}

interface Held {
  /** As it is written to the store and sent on the bus. */
  readonly revocation: RevocationRecord;
  /** Held on behalf of another worker (it arrived on the bus, not yet written). */
  readonly forPeer: boolean;
}

const keyOf = (r: RevocationRecord) => `${r.kind}\u0000${r.subject}\u0000${r.value}\u0000${r.expiresAt}`;

/**
 * The one place where revocations and user changes enter a worker and leave it for the cluster.
 * A revocation is applied here, written to the store (durable, seen by workers that start later)
 * and sent on the control bus (fast path, ~ms); the store's event feed is the slow, reliable path
 * (one poll interval). Applying is idempotent, so duplicates are harmless.
 *
 * During a store outage a revocation is sent as not yet written: every worker that receives it
 * holds it and writes it when the store answers, so an acknowledged logout survives the loss of
 * any one worker. Several workers may then write the same revocation: the rows are identical,
 * applying them is idempotent, and the purge removes them together (same `expiresAt`), so the
 * duplicates cost only a few rows. A worker that reads a held revocation in the store's log first
 * no longer writes it.
 *
 * @example
 *   await control.revoke(Revocations.ofToken(claims));
 */
export class ClusterControl {
  private readonly now: () => number;
  /** Applied here, not yet written; by revocation, oldest first. */
  private readonly pending = new Map<string, Held>();
  private readonly confirmations = new Map<string, () => void>();
  private writing: Promise<void> | null = null;
  private batchTimer: NodeJS.Timeout | null = null;

  private readonly options: ClusterControlOptions;

  constructor(options: ClusterControlOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /**
   * Revokes cluster-wide: applied here at once, written to the store and, unless it is a renewal's
   * replacement, sent on the control bus. If the store does not answer within WRITE_WAIT_MS, the
   * message says so: every other worker then holds the revocation too and confirms it, and this
   * call resolves once one has (at most PEER_CONFIRM_WAIT_MS). Every holder writes it when the
   * store answers again. Never rejects: the revocation holds on the live cluster either way.
   */
  async revoke(given: Revocation): Promise<void> {
    metrics.revocations.inc({ kind: given.kind });
    const revocation = toRecord(given);
    this.apply(revocation);
    this.hold(revocation, false);
    if (given.kind === 'replaced') {
      // A token replaced by a renewal stays valid for TOKEN_REUSE_GRACE (10 s) anyway: other
      // workers read it from the store's log (one poll interval), and a wave of renewals costs one
      // multi-row INSERT per batch instead of a write and a broadcast per socket.
      this.scheduleWrite();
      return;
    }
    if (await this.writtenWithin(revocation, WRITE_WAIT_MS)) {
      this.options.bus.publish({ type: 'revoke', revocation, durable: true, sentAt: Date.now() });
      return;
    }
    const id = randomBytes(12).toString('base64url');
    const confirmed = this.confirmation(id, PEER_CONFIRM_WAIT_MS);
    this.options.bus.publish({ type: 'revoke', revocation, durable: false, id, sentAt: Date.now() });
    // Not confirmed, and not written meanwhile (a slow store rather than a down one): only this
    // worker holds it, until the store answers.
    if (!(await confirmed) && this.pending.has(keyOf(revocation)))
      this.options.log.warn(
        'store down and no other worker confirmed the revocation: only this worker holds it',
        {
          kind: revocation.kind,
          pending: this.pending.size,
        },
      );
  }

  /** Revocations applied here but not yet written to the store (this worker's and peers'). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Writes every pending revocation, oldest first; throws if the store is down. */
  async flushPending(): Promise<void> {
    // One writer at a time; loop because revocations may arrive while a write is in flight.
    while (this.pending.size > 0) {
      this.writing ??= this.writePending().finally(() => (this.writing = null));
      await this.writing;
    }
  }

  /** Writes what is pending, then stops the batch timer (worker shutdown). */
  async stop(): Promise<void> {
    if (this.batchTimer !== null) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    for (const confirm of this.confirmations.values()) confirm();
    await this.flushPending().catch((error: unknown) =>
      this.options.log.warn('revocations left unwritten at shutdown', {
        error,
        pending: this.pending.size,
      }),
    );
  }

  private hold(revocation: RevocationRecord, forPeer: boolean): void {
    const key = keyOf(revocation);
    if (!this.pending.has(key)) this.pending.set(key, { revocation, forPeer });
  }

  /** True once `revocation` is written, if that happens within `ms`; false on failure or timeout. */
  private async writtenWithin(revocation: RevocationRecord, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const attempt = this.flushPending().then(
      () => true,
      (error: unknown) => {
        this.options.log.warn('store down: revocation applied on the live cluster, written later', {
          error,
          pending: this.pending.size,
        });
        return false;
      },
    );
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const done = await Promise.race([attempt, timeout]);
    clearTimeout(timer);
    return done && !this.pending.has(keyOf(revocation));
  }

  /** Resolves true when another worker confirms message `id`, false after `ms`. */
  private confirmation(id: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.confirmations.delete(id);
        resolve(false);
      }, ms);
      this.confirmations.set(id, () => {
        clearTimeout(timer);
        this.confirmations.delete(id);
        resolve(true);
      });
    });
  }

  private async writePending(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = [...this.pending.entries()].slice(0, WRITE_BATCH);
      await this.options.store.appendEvents(batch.map(([, held]) => held.revocation));
      let forPeers = 0;
      // By identity: the log may have removed an entry, or a new one taken its key, meanwhile.
      for (const [key, held] of batch) {
        if (this.pending.get(key) === held) this.pending.delete(key);
        if (held.forPeer) forPeers++;
      }
      if (forPeers > 0)
        this.options.log.info('wrote revocations held for other workers', { count: forPeers });
    }
  }

  private scheduleWrite(): void {
    if (this.batchTimer !== null && this.pending.size < WRITE_BATCH) return;
    if (this.batchTimer !== null) clearTimeout(this.batchTimer);
    const delay = this.pending.size >= WRITE_BATCH ? 0 : WRITE_DELAY_MS;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      this.flushPending().catch((error: unknown) =>
        this.options.log.warn('store down: replaced tokens written later', {
          error,
          pending: this.pending.size,
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
    if (message.type === 'revoke') {
      this.apply(message.revocation);
      // Wall clock on both ends: across hosts this includes their clock skew.
      if (message.sentAt !== undefined)
        metrics.revocationPropagation.observe(Math.max(0, Date.now() - message.sentAt) / 1000);
      if (message.durable) return;
      // Not in the store yet: hold it too, so it survives the loss of the worker that took it.
      this.hold(message.revocation, true);
      if (message.id !== undefined) this.options.bus.publish({ type: 'revoke-held', ref: message.id });
    } else if (message.type === 'revoke-held') {
      this.confirmations.get(message.ref)?.();
    } else if (message.type === 'role-changed') {
      this.options.onRoleChanged?.(message.role);
    } else this.options.onUserChanged(message.userId);
  }

  /** Handles an event from the store's log. */
  handleEvent(event: ClusterEvent): void {
    const nowSeconds = Math.floor(this.now() / 1000);
    // Already written (by the worker that took it, or another holder): no need to write it again.
    const { kind, subject, value, expiresAt } = event;
    if (kind === 'user-changed') {
      if (expiresAt >= nowSeconds) this.options.onUserChanged(subject);
      return;
    }
    if (kind === 'role-changed') {
      if (expiresAt >= nowSeconds) this.options.onRoleChanged?.(subject);
      return;
    }
    const record: RevocationRecord = { kind, subject, value, expiresAt };
    // Already written (by the worker that took it, or another holder): no need to write it again.
    this.pending.delete(keyOf(record));
    if (expiresAt >= nowSeconds) this.apply(record);
  }

  private apply(record: RevocationRecord): void {
    const revocation = fromRecord(record);
    if (this.options.revocations.add(revocation)) this.options.onRevoked(revocation);
  }
}
