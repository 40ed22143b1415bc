import { WardenError } from '../errors/catalogue.ts';
import type { TokenClaims } from './tokens.ts';

/**
 * A revocation, by what it ends:
 * - `token`: one token, outright (a logout);
 * - `replaced`: one token that a renewal replaced at `replacedAt` (epoch s): tolerated for
 *   TOKEN_REUSE_GRACE after that, then its use is reuse;
 * - `session`: every token of one login (`sid`);
 * - `user`: every token of a user issued before `cutoff` (epoch s, compared with `iat`).
 * `expiresAt` (epoch s) is when the entry can be forgotten: every token it covers has expired.
 * Build them with the constructors in `Revocations`.
 */
export type Revocation =
  | { readonly kind: 'token'; readonly jti: string; readonly expiresAt: number }
  | {
      readonly kind: 'replaced';
      readonly jti: string;
      readonly replacedAt: number;
      readonly expiresAt: number;
    }
  | { readonly kind: 'session'; readonly sid: string; readonly expiresAt: number }
  | { readonly kind: 'user'; readonly userId: string; readonly cutoff: number; readonly expiresAt: number };

export const Revocations = {
  /** A logout: the token is revoked outright. */
  ofToken: (claims: Pick<TokenClaims, 'jti' | 'exp'>): Revocation => ({
    kind: 'token',
    jti: claims.jti,
    expiresAt: claims.exp,
  }),
  /** A renewal replaced this token at `replacedAt` (epoch s). */
  replaced: (claims: Pick<TokenClaims, 'jti' | 'exp'>, replacedAt: number): Revocation => ({
    kind: 'replaced',
    jti: claims.jti,
    replacedAt,
    expiresAt: claims.exp,
  }),
  /** Every token of one session, until the session could have ended anyway. */
  ofSession: (sid: string, expiresAt: number): Revocation => ({ kind: 'session', sid, expiresAt }),
  /** Every token of the user issued before `cutoff` (epoch s). */
  ofUser: (userId: string, cutoff: number, expiresAt: number): Revocation => ({
    kind: 'user',
    userId,
    cutoff,
    expiresAt,
  }),
} as const;

/**
 * How a revocation is stored (the store's event log) and sent (the control channel): a flat row
 * that older workers understand. `value` is the cut-off for `user`, the replacement time for a
 * replaced token, and 0 for an outright token or session revocation.
 */
export interface RevocationRecord {
  readonly kind: 'token' | 'session' | 'user';
  readonly subject: string;
  readonly value: number;
  readonly expiresAt: number;
}

export function toRecord(revocation: Revocation): RevocationRecord {
  const { expiresAt } = revocation;
  switch (revocation.kind) {
    case 'token':
      return { kind: 'token', subject: revocation.jti, value: 0, expiresAt };
    case 'replaced':
      return { kind: 'token', subject: revocation.jti, value: revocation.replacedAt, expiresAt };
    case 'session':
      return { kind: 'session', subject: revocation.sid, value: 0, expiresAt };
    case 'user':
      return { kind: 'user', subject: revocation.userId, value: revocation.cutoff, expiresAt };
  }
}

export function fromRecord(record: RevocationRecord): Revocation {
  const { subject, value, expiresAt } = record;
  if (record.kind === 'user') return { kind: 'user', userId: subject, cutoff: value, expiresAt };
  if (record.kind === 'session') return { kind: 'session', sid: subject, expiresAt };
  return value === 0
    ? { kind: 'token', jti: subject, expiresAt }
    : { kind: 'replaced', jti: subject, replacedAt: value, expiresAt };
}

/**
 * Each worker's in-memory view of every revocation still in force: by token id, by session and by
 * user (a cut-off on `iat`). Checked on every authentication, so lookups are three Map reads.
 * Keyed on `jti`/`sid`/`sub`, never on token strings (the same token can be re-encoded).
 *
 * @example
 *   revocations.add(Revocations.ofToken(claims));
 *   revocations.problem(claims, nowSeconds, 10); // WardenError('AuthTokenRevokedError', ...)
 */
/** In the token map: revoked outright, not replaced. */
const OUTRIGHT = 0;

export class RevocationList {
  private readonly tokens = new Map<string, { expiresAt: number; replacedAt: number }>();
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, { cutoff: number; expiresAt: number }>();

  get size(): number {
    return this.tokens.size + this.sessions.size + this.users.size;
  }

  /** Adds a revocation; returns false when it was already known (idempotent). */
  add(revocation: Revocation): boolean {
    const { expiresAt } = revocation;
    switch (revocation.kind) {
      case 'user': {
        const known = this.users.get(revocation.userId);
        if (known !== undefined && known.cutoff >= revocation.cutoff) return false;
        this.users.set(revocation.userId, { cutoff: revocation.cutoff, expiresAt });
        return true;
      }
      case 'session':
        if ((this.sessions.get(revocation.sid) ?? -1) >= expiresAt) return false;
        this.sessions.set(revocation.sid, expiresAt);
        return true;
      case 'token':
      case 'replaced': {
        const known = this.tokens.get(revocation.jti);
        const replacedAt = revocation.kind === 'token' ? OUTRIGHT : revocation.replacedAt;
        // An outright revocation outranks a replacement; otherwise the first word stands.
        if (known !== undefined && (known.replacedAt === OUTRIGHT || revocation.kind === 'replaced'))
          return false;
        this.tokens.set(revocation.jti, { expiresAt, replacedAt });
        return true;
      }
    }
  }

  /**
   * Which entry refuses these claims, in the order `problem` checks them: `token` (revoked
   * outright: a logout), `session`, `user`, `replaced` (used again after its grace), or null.
   */
  refusedBy(claims: TokenClaims, nowSeconds: number, graceSeconds: number): Revocation['kind'] | null {
    const token = this.tokens.get(claims.jti);
    if (token !== undefined && token.replacedAt === OUTRIGHT) return 'token';
    if (this.sessions.has(claims.sid)) return 'session';
    const user = this.users.get(claims.sub);
    if (user !== undefined && claims.iat < user.cutoff) return 'user';
    if (token !== undefined && nowSeconds - token.replacedAt > graceSeconds) return 'replaced';
    return null;
  }

  /** When a renewal replaced this token (epoch s), or null if it was not replaced. */
  replacedAt(jti: string): number | null {
    const entry = this.tokens.get(jti);
    return entry === undefined || entry.replacedAt === OUTRIGHT ? null : entry.replacedAt;
  }

  /**
   * Why these claims may not authenticate, or null. A token replaced by a renewal is tolerated
   * for `graceSeconds` after its replacement (a client that reconnected while the new token was
   * in flight); past that, presenting it is reuse, answered with TokenReuseError.
   */
  problem(claims: TokenClaims, nowSeconds: number, graceSeconds: number): WardenError | null {
    const token = this.tokens.get(claims.jti);
    if (token !== undefined && token.replacedAt === OUTRIGHT) {
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
