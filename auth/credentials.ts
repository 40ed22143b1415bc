import { WardenError } from '../errors/catalogue.ts';
import type { Role, User } from '../store/types.ts';
import { checkPassword, parseCredentials, type PasswordCheckDeps } from './login.ts';
import { Revocations, type Revocation, type RevocationList } from './revocations.ts';
import type { TokenClaims, TokenService } from './tokens.ts';

/** Something a client presents to prove who it is. New kinds add a member and a verifier. */
export type Credential =
  | { readonly kind: 'password'; readonly input: unknown }
  | { readonly kind: 'token'; readonly token: unknown };

export type CredentialKind = Credential['kind'];

export interface AcceptContext {
  /** The client's address (TRUST_PROXY applied), for the limits that key on it. */
  readonly clientAddress: string;
}

/** What an accepted credential proves. */
export type Identity =
  /**
   * A login: a new session starts; `asOf` (ms) is when the user's state was last read; `roles`
   * are the user's roles found in the store.
   */
  | {
      readonly kind: 'login';
      readonly via: CredentialKind;
      readonly user: User;
      readonly asOf: number;
      readonly roles: readonly Role[];
    }
  /** A token of a session that is still in force. */
  | { readonly kind: 'session'; readonly via: CredentialKind; readonly claims: TokenClaims };

/** One verifier per credential kind, each turning its credential into an Identity or a named error. */
type Verifiers = {
  readonly [K in CredentialKind]: (
    credential: Extract<Credential, { kind: K }>,
    context: AcceptContext,
  ) => Promise<Identity>;
};

export interface CredentialAcceptorOptions {
  readonly tokens: TokenService;
  readonly revocations: RevocationList;
  readonly password: PasswordCheckDeps;
  /** Seconds a token replaced by a renewal is still accepted. */
  readonly reuseGrace: number;
  /** Longest a session (one login's chain of renewed tokens) may last, seconds. */
  readonly sessionMaxAge: number;
  /** Revokes cluster-wide (ClusterControl.revoke): used when a replaced token is reused. */
  readonly revoke: (revocation: Revocation) => Promise<void>;
  readonly onRevokeFailed?: (error: unknown) => void;
  readonly now?: () => number;
}

/** Why a session may not go on at `nowSeconds` because of its age, or null. */
export function sessionAgeProblem(
  claims: TokenClaims,
  nowSeconds: number,
  sessionMaxAge: number,
): WardenError | null {
  return claims.auth_time + sessionMaxAge <= nowSeconds
    ? new WardenError('SessionExpiredError', 'the session has reached its maximum age; log in again')
    : null;
}

/**
 * The one place where Warden accepts a credential, for every path: the WebSocket handshake and
 * `#authenticate` (through the SocketCluster auth engine and the AUTHENTICATE middleware),
 * `invoke('login')` and the HTTP routes. Verification, revocation, reuse detection and session
 * age are decided here and nowhere else, so that every path treats every credential kind alike.
 *
 * SocketCluster splits a token check in two: its auth engine verifies the signature (and renames
 * any error it throws), then the AUTHENTICATE middleware may refuse with Warden's own error
 * names. `verifyToken` and `admit` are those two halves; `accept` runs both.
 *
 * @example
 *   const acceptor = new CredentialAcceptor({ tokens, revocations, password, reuseGrace: 10, sessionMaxAge: 43200, revoke });
 *   const identity = await acceptor.accept({ kind: 'password', input: body }, { clientAddress });
 */
export class CredentialAcceptor {
  private readonly now: () => number;
  private readonly verifiers: Verifiers;

  constructor(private readonly options: CredentialAcceptorOptions) {
    this.now = options.now ?? options.tokens.now;
    this.verifiers = {
      password: async (credential, context) => {
        const checked = await checkPassword(
          options.password,
          parseCredentials(credential.input),
          context.clientAddress,
        );
        const roles = await options.password.store.findRoles(checked.user.roles);
        return { kind: 'login', via: 'password', user: checked.user, asOf: checked.asOf, roles };
      },
      token: async (credential) => ({
        kind: 'session',
        via: 'token',
        claims: this.admit(this.verifyToken(credential.token)),
      }),
    };
  }

  /** Accepts a credential of any kind; throws the named error that refuses it. */
  accept(credential: Credential, context: AcceptContext): Promise<Identity> {
    const verify = this.verifiers[credential.kind] as (c: Credential, x: AcceptContext) => Promise<Identity>;
    return verify(credential, context);
  }

  /** Signature, pinned algorithm and claim shapes of a Warden token (the SC auth engine's half). */
  verifyToken(token: unknown): TokenClaims {
    return this.options.tokens.verify(token);
  }

  /**
   * What only the cluster knows about verified claims (the AUTHENTICATE middleware's half):
   * revoked by token, session or user; a replaced token reused after the grace (which revokes
   * the whole session: two parties hold it); a session past SESSION_MAX_AGE.
   */
  admit(claims: TokenClaims): TokenClaims {
    const problem = this.problem(claims);
    if (problem?.name === 'TokenReuseError') this.revokeSession(claims);
    if (problem !== null) throw problem;
    return claims;
  }

  /** Why these claims may not authenticate now, or null; no side effects. */
  problem(claims: TokenClaims): WardenError | null {
    const nowSeconds = Math.floor(this.now() / 1000);
    return (
      this.options.revocations.problem(claims, nowSeconds, this.options.reuseGrace) ??
      sessionAgeProblem(claims, nowSeconds, this.options.sessionMaxAge)
    );
  }

  /** Signs the first token of the session that a login identity starts. */
  issue(identity: Extract<Identity, { kind: 'login' }>): { token: string; claims: TokenClaims } {
    return this.options.tokens.issue(identity.user, undefined, identity.asOf, identity.roles);
  }

  private revokeSession(claims: TokenClaims): void {
    this.options
      .revoke(Revocations.ofSession(claims.sid, claims.auth_time + this.options.sessionMaxAge))
      .catch((error: unknown) => this.options.onRevokeFailed?.(error));
  }
}
