import { createHash, randomBytes } from 'node:crypto';
import { WardenError } from '../errors/catalogue.ts';
import type { OneTimePurpose, Redemption, Store } from '../store/types.ts';

/** 256 random bits, base64url: 43 characters. */
const SECRET_BYTES = 32;
const SECRET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** How long a redeemed or expired secret is kept, so that a late replay is still told apart (ms). */
const RETAIN_AFTER_EXPIRY_MS = 10 * 60 * 1000;

/** The store key of a secret: its SHA-256, so a copy of the table redeems nothing. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Whether `value` has the shape of a secret this module mints (checked before any store work). */
export function isSecretShaped(value: unknown): value is string {
  return typeof value === 'string' && SECRET_FORMAT.test(value);
}

export interface OneTimeSecretsOptions {
  readonly store: Store;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  readonly now: () => number;
}

/**
 * Mints and redeems one-time secrets (tickets, auth codes, invites): 256 random bits given to the
 * client once, kept in the store only as a SHA-256, redeemed at most once cluster-wide by one
 * atomic UPDATE in the store, refused after expiry. What a secret stands for is a JSON payload
 * the caller chooses.
 *
 * @example
 *   const secrets = new OneTimeSecrets({ store, now: Date.now });
 *   const { secret, expiresAt } = await secrets.mint('ticket', { sid }, 30);
 *   const outcome = await secrets.redeem('ticket', secret); // { status: 'redeemed', payload }
 */
export class OneTimeSecrets {
  private readonly options: OneTimeSecretsOptions;

  constructor(options: OneTimeSecretsOptions) {
    this.options = options;
  }

  /** A new secret valid for `ttlSeconds`; `expiresAt` in epoch seconds. */
  async mint(
    purpose: OneTimePurpose,
    payload: object,
    ttlSeconds: number,
  ): Promise<{ secret: string; expiresAt: number }> {
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const expiresAtMs = this.options.now() + ttlSeconds * 1000;
    await this.options.store.createOneTimeSecret({
      hash: secretHash(secret),
      purpose,
      payload: JSON.stringify(payload),
      expiresAt: expiresAtMs,
    });
    return { secret, expiresAt: Math.floor(expiresAtMs / 1000) };
  }

  /** Redeems a secret; anything not shaped like one is `unknown` without asking the store. */
  async redeem(purpose: OneTimePurpose, secret: unknown): Promise<Redemption> {
    if (!isSecretShaped(secret)) return { status: 'unknown' };
    return this.options.store.redeemOneTimeSecret(secretHash(secret), purpose, this.options.now());
  }

  /** What a secret stands for, without redeeming it; null when it is not known. */
  async peek(purpose: OneTimePurpose, secret: unknown): Promise<string | null> {
    if (!isSecretShaped(secret)) return null;
    return this.options.store.peekOneTimeSecret(secretHash(secret), purpose);
  }

  /** Makes a redeemed secret usable again (what it was redeemed for did not happen). */
  async release(purpose: OneTimePurpose, secret: string): Promise<void> {
    await this.options.store.releaseOneTimeSecret(secretHash(secret), purpose);
  }

  /** Forgets secrets expired for a while (kept that long so a late replay still reads as used). */
  purge(): Promise<number> {
    return this.options.store.purgeOneTimeSecrets(this.options.now() - RETAIN_AFTER_EXPIRY_MS);
  }
}

/** The LoginError a refused ticket or code gets, with `reason` ticket-used/-expired/-unknown. */
export function ticketRefused(status: Exclude<Redemption['status'], 'redeemed'>): WardenError {
  const messages = {
    used: 'this ticket has already been used',
    expired: 'this ticket has expired',
    unknown: 'this ticket is not known',
  } as const;
  return new WardenError('LoginError', messages[status], { details: { reason: `ticket-${status}` } });
}
