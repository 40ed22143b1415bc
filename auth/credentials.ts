import { createHash } from 'node:crypto';
import { toWardenError, WardenError } from '../errors/catalogue.ts';
import { audit } from '../log/audit.ts';
import { metrics, secondsSince } from '../metrics/metrics.ts';
import type { Permissions, Role, User } from '../store/types.ts';
import type { OidcIdentity, OidcVerifier } from './oidc-verifier.ts';
import { gatewayClaims, parseGatewayIdentity, type GatewayClaimNames } from './gateway-identity.ts';
import { checkPassword, loginFailureReason, parseCredentials, type PasswordCheckDeps } from './login.ts';
import { ticketRefused, type OneTimeSecrets } from './one-time-secrets.ts';
import { register, type RegistrationOptions } from './registration.ts';
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
  | { readonly kind: 'gateway'; readonly header: string }
  /** A one-time ticket or auth code (POST /auth/ticket, or a login answering with a code). */
  | { readonly kind: 'ticket'; readonly ticket: unknown }
  /** The `warden_session` cookie's token (AUTH_COOKIE=on), with the request's Origin header. */
  | { readonly kind: 'cookie'; readonly token: unknown; readonly origin: string | undefined }
  /** A self-service registration, `{username, password[, invite]}` (REGISTRATION). */
  | { readonly kind: 'registration'; readonly input: unknown };

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
  | { readonly kind: 'socket'; readonly via: CredentialKind; readonly claims: TokenClaims }
  /** A redeemed ticket: the claims of the next token of the session it stands for, to be signed. */
  | { readonly kind: 'redeemed'; readonly via: CredentialKind; readonly claims: TokenClaims };

/**
 * What a ticket or auth code stands for (its one-time secret's payload): a session, by `sid`.
 * A ticket made from a token carries that token's session; a code the session its login starts.
 * `issuedAt` (epoch s) is when its session was last known to be in force: a revocation after it
 * (of the user, the session, the token it was made from) refuses it.
 */
interface TicketPayload {
  readonly sub: string;
  readonly sid: string;
  readonly authTime: number;
  readonly issuedAt: number;
  /** The `jti` of the token it was made from; absent for a code. */
  readonly from?: string;
  /** An external identity's session (not a local user): what its claims are re-derived from. */
  readonly external?: { readonly idp: string; readonly username: string; readonly roles: readonly string[] };
}

function parseTicketPayload(text: string): TicketPayload {
  const value = JSON.parse(text) as TicketPayload;
  if (typeof value.sub !== 'string' || typeof value.sid !== 'string' || typeof value.authTime !== 'number')
    throw new WardenError('InternalError', 'a stored ticket has no session');
  return value;
}

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
  /** Tickets, auth codes and invites; null: none are minted or accepted. */
  readonly secrets?: OneTimeSecrets | null;
  /** TICKET_TTL, seconds. */
  readonly ticketTtl?: number;
  /**
   * Whether a session cookie may be accepted with this Origin header (AUTH_COOKIE=on): an origin
   * named in the allow-list; a missing Origin never. Null: cookies are off.
   */
  readonly cookieOrigin?: ((origin: string | undefined) => boolean) | null;
  /** Self-service registration (REGISTRATION, REGISTRATION_ROLES, PASSWORD_MIN_LENGTH). */
  readonly registration?: RegistrationOptions;
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
      ticket: async (credential) => ({
        kind: 'redeemed',
        via: 'ticket',
        claims: await this.redeemTicket(credential.ticket),
      }),
      cookie: async (credential) => {
        if (options.cookieOrigin == null)
          throw new WardenError('AuthTokenInvalidError', 'this server does not accept session cookies');
        // Cross-site WebSocket hijacking: a page elsewhere makes the browser send the cookie too.
        if (!options.cookieOrigin(credential.origin))
          throw new WardenError('OriginError', 'the session cookie is accepted only from an allowed Origin');
        return { kind: 'session', via: 'cookie', claims: this.admit(this.verifyToken(credential.token)) };
      },
      registration: async (credential, context) => {
        const registration = options.registration ?? { mode: 'closed', roles: [], passwordMinLength: 10 };
        const checked = await register(
          { ...options.password, options: registration, secrets: options.secrets ?? null },
          credential.input,
          context.clientAddress,
        );
        const roles = await options.password.store.findRoles(checked.user.roles);
        return { kind: 'login', via: 'registration', user: checked.user, asOf: checked.asOf, roles };
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

  /**
   * Signs the first token of the session that a login (or an exchanged IdP identity) starts, or
   * the token a redeemed ticket stands for.
   */
  issue(identity: Extract<Identity, { kind: 'login' | 'external' | 'redeemed' }>): {
    token: string;
    claims: TokenClaims;
  } {
    const { tokens } = this.options;
    if (identity.kind === 'redeemed') return { token: tokens.sign(identity.claims), claims: identity.claims };
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

  /** A one-time ticket for the session of these (accepted) claims: `POST /auth/ticket`. */
  mintTicket(claims: TokenClaims): Promise<{ secret: string; expiresAt: number }> {
    return this.mint({
      sub: claims.sub,
      sid: claims.sid,
      authTime: claims.auth_time,
      issuedAt: Math.floor(this.now() / 1000),
      from: claims.jti,
      ...(claims.idp === undefined
        ? {}
        : { external: { idp: claims.idp, username: claims.username, roles: claims.roles } }),
    });
  }

  /** An auth code for a login: redeemed like a ticket, it starts the login's session. */
  mintCode(identity: Extract<Identity, { kind: 'login' }>): Promise<{ secret: string; expiresAt: number }> {
    const asOf = Math.max(Math.floor(identity.asOf / 1000), identity.user.tokensValidFrom);
    return this.mint({ sub: identity.user.id, sid: newId(), authTime: asOf, issuedAt: asOf });
  }

  /**
   * The next token of a session, for `POST /auth/refresh`: claims re-read from the store (a
   * local user) or the roles (an external identity), within SESSION_MAX_AGE. The caller
   * revokes the replaced token (reuse detection).
   */
  async renew(claims: TokenClaims): Promise<{ token: string; claims: TokenClaims }> {
    const next = await this.sessionClaims({
      sub: claims.sub,
      sid: claims.sid,
      authTime: claims.auth_time,
      issuedAt: claims.iat,
      ...(claims.idp === undefined
        ? {}
        : { external: { idp: claims.idp, username: claims.username, roles: claims.roles } }),
    });
    return { token: this.options.tokens.sign(next), claims: next };
  }

  private async mint(payload: TicketPayload): Promise<{ secret: string; expiresAt: number }> {
    return this.secrets().mint('ticket', payload, this.options.ticketTtl ?? 30);
  }

  private secrets(): OneTimeSecrets {
    if (this.options.secrets == null)
      throw new WardenError('LoginError', 'this server does not issue tickets', {
        details: { reason: 'ticket-unknown' },
      });
    return this.options.secrets;
  }

  /**
   * Redeems a ticket or code (once, cluster-wide: the store decides) into the claims of a new
   * token of its session. A used one is refused and, as only a thief or a replay presents it
   * twice, its session is revoked everywhere.
   */
  private async redeemTicket(ticket: unknown): Promise<TokenClaims> {
    const secrets = this.secrets();
    // Revoked since the ticket was made (its session, the user, the token it was made from):
    // checked before redeeming, as the redemption itself may lose a race to a replay, whose
    // revocation of the session must not undo the one legitimate redemption.
    const known = await secrets.peek('ticket', ticket);
    if (known !== null) this.assertTicketInForce(parseTicketPayload(known));
    const outcome = await secrets.redeem('ticket', ticket);
    if (outcome.status === 'used') {
      const payload = parseTicketPayload(outcome.payload);
      this.revokeSessionOf(payload.sid, payload.authTime);
      throw ticketRefused('used');
    }
    if (outcome.status !== 'redeemed') throw ticketRefused(outcome.status);
    return this.sessionClaims(parseTicketPayload(outcome.payload));
  }

  /** Throws what revoked the session a ticket stands for since it was made. */
  private assertTicketInForce(payload: TicketPayload): void {
    const nowSeconds = Math.floor(this.now() / 1000);
    const problem = this.options.revocations.problem(
      {
        sub: payload.sub,
        username: '',
        roles: [],
        publish: [],
        subscribe: [],
        invoke: [],
        jti: payload.from ?? '',
        iat: payload.issuedAt,
        exp: payload.issuedAt,
        sid: payload.sid,
        auth_time: payload.authTime,
      },
      nowSeconds,
      this.options.reuseGrace,
    );
    // A renewal of the token it was made from since is no reuse: it was current then.
    if (problem !== null && problem.name !== 'TokenReuseError') throw problem;
  }

  /** The claims of the next token of a session, from the store's current state. */
  private async sessionClaims(session: TicketPayload): Promise<TokenClaims> {
    const { tokens, password, sessionMaxAge } = this.options;
    const nowSeconds = Math.floor(this.now() / 1000);
    const bounds = {
      sid: session.sid,
      authTime: session.authTime,
      notAfter: session.authTime + sessionMaxAge,
    };
    if (bounds.notAfter <= nowSeconds)
      throw new WardenError('SessionExpiredError', 'the session has reached its maximum age; log in again');
    if (session.external !== undefined) {
      const { idp, username, roles } = session.external;
      const permissions = await this.options.rolePermissions(roles);
      return tokens.claimsForExternal({ idp, sub: session.sub, username, roles }, permissions, bounds);
    }
    const user = await password.store.findUserById(session.sub);
    if (user === null || user.disabled || user.tokensValidFrom > session.issuedAt)
      throw new WardenError('AuthTokenRevokedError', 'the account is disabled, removed or revoked');
    const roles = await password.store.findRoles(user.roles);
    return tokens.claimsFor(user, bounds, this.now(), roles);
  }

  /** The revocation that ends the whole session of these claims, on every worker. */
  sessionRevocation(claims: Pick<TokenClaims, 'sid' | 'auth_time'>): Revocation {
    return Revocations.ofSession(claims.sid, claims.auth_time + this.options.sessionMaxAge);
  }

  private revokeSession(claims: TokenClaims): void {
    audit('revocation', { kind: 'session', by: 'reuse', username: claims.username, sub: claims.sub });
    this.revokeSessionOf(claims.sid, claims.auth_time);
  }

  private revokeSessionOf(sid: string, authTime: number): void {
    this.options
      .revoke(this.sessionRevocation({ sid, auth_time: authTime }))
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
