import { createHash } from 'node:crypto';
import { toWardenError, WardenError } from '../errors/catalogue.ts';
import { audit } from '../log/audit.ts';
import { metrics, secondsSince } from '../metrics/metrics.ts';
import type { Permissions, Role, User } from '../store/types.ts';
import type { OidcIdentity, OidcVerifier } from './oidc-verifier.ts';
import { gatewayClaims, parseGatewayIdentity, type GatewayClaimNames } from './gateway-identity.ts';
import { checkPassword, loginFailureReason, parseCredentials, type PasswordCheckDeps } from './login.ts';
import { Revocations, type Revocation, type RevocationList } from './revocations.ts';
import { newId, TOKEN_ALGORITHM, type TokenClaims, type TokenService } from './tokens.ts';
import { fillPermissions } from './role-permissions.ts';

/** Something a client presents to prove who it is. New kinds add a member and a verifier. */
export type Credential =
  | { readonly kind: 'password'; readonly input: unknown }
  | { readonly kind: 'token'; readonly token: unknown }
  /** An OpenID provider's access token (OIDC_ISSUER), exchanged for a Warden session. */
  | { readonly kind: 'access-token'; readonly token: unknown }
  /** A trusted gateway's identity header (GATEWAY_IDENTITY_HEADER), for one socket. */
  | { readonly kind: 'gateway'; readonly header: string };

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
  | { readonly kind: 'session'; readonly via: CredentialKind; readonly claims: TokenClaims }
  /** An identity an OpenID provider vouches for: a new session starts, with its roles' patterns. */
  | {
      readonly kind: 'external';
      readonly via: CredentialKind;
      readonly identity: OidcIdentity;
      readonly permissions: Permissions;
    }
  /** Claims for one socket only, never signed nor renewed: a gateway's identity. */
  | { readonly kind: 'socket'; readonly via: CredentialKind; readonly claims: TokenClaims };

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
  /** The OpenID provider's access-token verifier; null when OIDC_ISSUER is not set. */
  readonly oidc?: OidcVerifier | null;
  /** Where a gateway's identity names the user and the roles; null when GATEWAY_IDENTITY_HEADER is not set. */
  readonly gateway?: GatewayClaimNames | null;
  /** The union of these roles' patterns (the store's roles). */
  readonly rolePermissions: (roles: readonly string[]) => Promise<Permissions>;
  readonly now?: () => number;
}

/**
 * The Warden session id of an IdP session: derived, so that a back-channel logout naming the IdP's
 * `sid` reaches every Warden session and socket bound to it, on every worker, with no lookup.
 */
export function idpSessionId(issuer: string, sid: string): string {
  return `idp.${createHash('sha256').update(`${issuer}\n${sid}`).digest('base64url').slice(0, 32)}`;
}

/**
 * The claims of a socket authenticated with an IdP access token itself: valid until the token's
 * `exp`, never renewed (`direct`), keyed by a digest of the token (no `jti` is required of IdPs).
 */
function directClaims(identity: OidcIdentity, permissions: Permissions, token: string): TokenClaims {
  const digest = `idp.${createHash('sha256').update(token).digest('base64url').slice(0, 32)}`;
  const values = { username: identity.username, sub: identity.sub, tenant: null };
  return Object.freeze({
    sub: identity.sub,
    username: identity.username,
    roles: Object.freeze([...identity.roles]),
    ...fillPermissions(permissions, values),
    jti: digest,
    iat: identity.iat,
    exp: identity.exp,
    sid: identity.sid === undefined ? digest : idpSessionId(identity.issuer, identity.sid),
    auth_time: identity.iat,
    idp: identity.issuer,
    direct: true,
  });
}

/** An IdP token is signed with the IdP's asymmetric key; Warden's own are always HS256. */
function isIdpToken(token: unknown): token is string {
  if (typeof token !== 'string') return false;
  try {
    const header = JSON.parse(
      Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'),
    ) as unknown;
    return (
      typeof header === 'object' && header !== null && (header as { alg?: unknown }).alg !== TOKEN_ALGORITHM
    );
  } catch {
    return false;
  }
}

const EMPTY_PERMISSIONS: Permissions = Object.freeze({ publish: [], subscribe: [], invoke: [] });

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

  private readonly options: CredentialAcceptorOptions;

  constructor(options: CredentialAcceptorOptions) {
    this.options = options;
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
      'access-token': async (credential) => {
        const identity = await this.oidc().verify(credential.token);
        // Refused while its IdP session is logged out (back-channel logout) or its user revoked.
        this.admit(directClaims(identity, EMPTY_PERMISSIONS, credential.token as string));
        const permissions = await options.rolePermissions(identity.roles);
        return { kind: 'external', via: 'access-token', identity, permissions };
      },
      gateway: async (credential) => {
        if (options.gateway == null)
          throw new WardenError('GatewayIdentityError', 'this server does not accept a gateway identity');
        const identity = parseGatewayIdentity(credential.header, options.gateway);
        const permissions = await options.rolePermissions(identity.roles);
        const nowSeconds = Math.floor(this.now() / 1000);
        // admit: refused while the user is revoked (`sub`), as any other credential.
        const claims = this.admit(gatewayClaims(identity, permissions, nowSeconds, options.sessionMaxAge));
        return { kind: 'socket', via: 'gateway', claims };
      },
    };
  }

  /**
   * Accepts a credential of any kind; throws the named error that refuses it. Every login (any
   * kind but a Warden token) is counted and audited here, the one place all paths pass.
   */
  async accept(credential: Credential, context: AcceptContext): Promise<Identity> {
    const verify = this.verifiers[credential.kind] as (c: Credential, x: AcceptContext) => Promise<Identity>;
    if (credential.kind === 'token') return verify(credential, context);
    const started = process.hrtime.bigint();
    try {
      const identity = await verify(credential, context);
      recordLogin(credential, context, identity, secondsSince(started));
      return identity;
    } catch (error) {
      recordLoginFailure(credential, context, toWardenError(error), secondsSince(started));
      throw error;
    }
  }

  /** Signature, pinned algorithm and claim shapes of a Warden token. */
  verifyToken(token: unknown): TokenClaims {
    return this.options.tokens.verify(token);
  }

  /**
   * The SC auth engine's half for a socket's token: a Warden token, or (with OIDC on) an IdP
   * access token, whose claims are then the patterns of its roles until its `exp`.
   */
  async verifySocketToken(token: unknown): Promise<TokenClaims> {
    if (this.options.oidc == null || !isIdpToken(token)) return this.verifyToken(token);
    const identity = await this.options.oidc.verify(token);
    return directClaims(identity, await this.options.rolePermissions(identity.roles), token);
  }

  private oidc(): OidcVerifier {
    if (this.options.oidc == null)
      throw new WardenError('LoginError', 'this server does not accept OpenID Connect access tokens', {
        details: { reason: 'oidc-off' },
      });
    return this.options.oidc;
  }

  /**
   * What only the cluster knows about verified claims (the AUTHENTICATE middleware's half):
   * revoked by token, session or user; a replaced token reused after the grace (which revokes
   * the whole session: two parties hold it); a session past SESSION_MAX_AGE.
   */
  admit(claims: TokenClaims): TokenClaims {
    const problem = this.problem(claims);
    if (problem?.name === 'TokenReuseError') {
      audit('token_reuse', { username: claims.username, sub: claims.sub, session: claims.sid });
      this.revokeSession(claims);
    }
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

  /** Signs the first token of the session that a login (or an exchanged IdP identity) starts. */
  issue(identity: Extract<Identity, { kind: 'login' | 'external' }>): { token: string; claims: TokenClaims } {
    const { tokens } = this.options;
    if (identity.kind === 'login')
      return tokens.issue(identity.user, undefined, identity.asOf, identity.roles);
    const { issuer, sid, sub, username, roles } = identity.identity;
    const authTime = Math.floor(this.now() / 1000);
    const claims = tokens.claimsForExternal({ idp: issuer, sub, username, roles }, identity.permissions, {
      sid: sid === undefined ? newId() : idpSessionId(issuer, sid),
      authTime,
      notAfter: authTime + this.options.sessionMaxAge,
    });
    return { token: tokens.sign(claims), claims };
  }

  private revokeSession(claims: TokenClaims): void {
    audit('revocation', { kind: 'session', by: 'reuse', username: claims.username, sub: claims.sub });
    this.options
      .revoke(Revocations.ofSession(claims.sid, claims.auth_time + this.options.sessionMaxAge))
      .catch((error: unknown) => this.options.onRevokeFailed?.(error));
  }
}

/** The username a login credential names, if it names one (never the secret part). */
function claimedUsername(credential: Credential): string | null {
  if (credential.kind !== 'password') return null;
  const { input } = credential;
  if (typeof input !== 'object' || input === null) return null;
  const { username } = input as { username?: unknown };
  return typeof username === 'string' ? username.slice(0, 64) : null;
}

function identityName(identity: Identity): { username: string; sub: string } {
  switch (identity.kind) {
    case 'login':
      return { username: identity.user.username, sub: identity.user.id };
    case 'external':
      return { username: identity.identity.username, sub: identity.identity.sub };
    default:
      return { username: identity.claims.username, sub: identity.claims.sub };
  }
}

function recordLogin(
  credential: Credential,
  context: AcceptContext,
  identity: Identity,
  seconds: number,
): void {
  metrics.logins.inc({ kind: credential.kind, result: 'success' });
  metrics.loginDuration.observe({ kind: credential.kind }, seconds);
  audit('login', { kind: credential.kind, ...identityName(identity), address: context.clientAddress });
}

function recordLoginFailure(
  credential: Credential,
  context: AcceptContext,
  error: WardenError,
  seconds: number,
): void {
  const limited = error.name === 'RateLimitError';
  metrics.logins.inc({ kind: credential.kind, result: limited ? 'rate_limited' : 'failure' });
  metrics.loginDuration.observe({ kind: credential.kind }, seconds);
  const fields = {
    kind: credential.kind,
    username: claimedUsername(credential),
    address: context.clientAddress,
  };
  if (limited) {
    // The throttle names its limit; a full hashing queue (fair admission) is `login-busy`.
    const limit = (error as { limit?: string }).limit ?? error.reason ?? 'login-busy';
    metrics.rateLimitHits.inc({ limit });
    audit('rate_limited', { limit, retryAfter: error.retryAfter ?? null, ...fields });
    return;
  }
  // The client sees one message for every failure; the trail says which it was.
  audit('login_failed', { ...fields, reason: loginFailureReason(error), error: error.name });
}
