import { WardenError } from '../errors/catalogue.ts';
import type { TokenClaims } from './tokens.ts';

export interface Revocation {
  readonly kind: 'token' | 'session' | 'user';
  /** jti, session id or user id. */
  readonly subject: string;
  /**
   * For 'user': tokens with `iat` below this (epoch s) are revoked. For 'token': when a renewal
   * replaced it (epoch s), 0 when it was revoked outright (logout).
   */
  readonly value: number;
  /** Epoch seconds after which the entry can be forgotten. */
  readonly expiresAt: number;
}

/**
 * Each worker's in-memory view of every revocation still in force: by token id, by session and by
 * user (a cut-off on `iat`). Checked on every authentication, so lookups are three Map reads.
 * Keyed on `jti`/`sid`/`sub`, never on token strings (the same token can be re-encoded).
 *
 * @example
 *   revocations.add({ kind: 'token', subject: claims.jti, value: 0, expiresAt: claims.exp });
 *   revocations.problem(claims, nowSeconds, 10); // WardenError('AuthTokenRevokedError', ...)
 */
export class RevocationList {
  private readonly tokens = new Map<string, { expiresAt: number; replacedAt: number }>();
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, { cutoff: number; expiresAt: number }>();

  get size(): number {
    return this.tokens.size + this.sessions.size + this.users.size;
  }

  /** Adds a revocation; returns false when it was already known (idempotent). */
  add(revocation: Revocation): boolean {
    const { kind, subject, expiresAt } = revocation;
    if (kind === 'user') {
      const known = this.users.get(subject);
      if (known !== undefined && known.cutoff >= revocation.value) return false;
      this.users.set(subject, { cutoff: revocation.value, expiresAt });
      return true;
    }
    if (kind === 'session') {
      if ((this.sessions.get(subject) ?? -1) >= expiresAt) return false;
      this.sessions.set(subject, expiresAt);
      return true;
    }
    const known = this.tokens.get(subject);
    // An outright revocation (0) outranks a replacement; otherwise the first word stands.
    if (known !== undefined && (known.replacedAt === 0 || revocation.value !== 0)) return false;
    this.tokens.set(subject, { expiresAt, replacedAt: revocation.value });
    return true;
  }

  /** When a renewal replaced this token (epoch s), or null if it was not replaced. */
  replacedAt(jti: string): number | null {
    const entry = this.tokens.get(jti);
    return entry === undefined || entry.replacedAt === 0 ? null : entry.replacedAt;
  }

  /**
   * Why these claims may not authenticate, or null. A token replaced by a renewal is tolerated
   * for `graceSeconds` after its replacement (a client that reconnected while the new token was
   * in flight); past that, presenting it is reuse, answered with TokenReuseError.
   */
  problem(claims: TokenClaims, nowSeconds: number, graceSeconds: number): WardenError | null {
    const token = this.tokens.get(claims.jti);
    if (token !== undefined && token.replacedAt === 0) {
      return new WardenError('AuthTokenRevokedError', 'the auth token has been revoked');
    }
    if (this.sessions.has(claims.sid)) {
      return new WardenError('AuthTokenRevokedError', 'the session of this auth token has been revoked');
    }
    const user = this.users.get(claims.sub);
    if (user !== undefined && claims.iat < user.cutoff) {
      return new WardenError('AuthTokenRevokedError', "the user's tokens have been revoked");
    }
    if (token !== undefined && nowSeconds - token.replacedAt > graceSeconds) {
      return new WardenError(
        'TokenReuseError',
        'this auth token was replaced by a renewal and used again; the session is revoked',
      );
    }
    return null;
  }

  /** Forgets entries that cannot matter any more (every token they cover has expired). */
  purge(nowSeconds: number): number {
    let removed = 0;
    for (const [key, entry] of this.tokens)
      if (entry.expiresAt < nowSeconds && this.tokens.delete(key)) removed++;
    for (const [key, expiresAt] of this.sessions)
      if (expiresAt < nowSeconds && this.sessions.delete(key)) removed++;
    for (const [key, entry] of this.users)
      if (entry.expiresAt < nowSeconds && this.users.delete(key)) removed++;
    return removed;
  }
}
